#!/usr/bin/env node
import { UsageError, type Command } from './command.js';

/**
 * Commands whose module is loaded alone, without the registry: the full list of commands pulls
 * in the node runtime, the servers and every protocol, about 0.3 s of CPU before anything runs
 * (half of what Porcupine takes to check all of Jepsen's etcd histories), which `quorate check`
 * run by a script or over files one at a time would pay for nothing.
 */
const LOADED_ALONE: ReadonlyMap<string, () => Promise<Command>> = new Map([
  ['check', async () => (await import('./commands/check.js')).checkCommand],
]);

async function usage(): Promise<string> {
  const { COMMANDS } = await import('./registry.js');
  const { DEFAULT_PROTOCOL, PROTOCOLS } = await import('../protocols/registry.js');
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: quorate <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    '',
    'protocols (--protocol NAME; `quorate help protocols` says more):',
    ...[...PROTOCOLS.keys()].map((p) => `  ${p}${p === DEFAULT_PROTOCOL ? ' (default)' : ''}`),
    '',
    'Run `quorate <command> --help` (or `quorate help <command>`) for a command\'s options; docs/cli.md has them all.',
  ].join('\n');
}

/** `quorate help WORD`: a command's help or a topic's; anything else is bad input. */
async function help(word: string): Promise<number> {
  const { HELP_TOPICS, protocolsHelp } = await import('./help-topics.js');
  const { helpText } = await import('./options/help.js');
  const { didYouMean } = await import('./options/suggest.js');
  const { COMMANDS } = await import('./registry.js');
  if (word === 'protocols') {
    console.log(protocolsHelp());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === word);
  if (command === undefined) {
    const known = [...COMMANDS.map((c) => c.name), ...HELP_TOPICS];
    console.error(`quorate help: no command or topic '${word}'${didYouMean(word, known, '')}; \`quorate help\` lists the commands`);
    return 3;
  }
  console.log(helpText(command));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  // `quorate --version`, as etcd and most tools answer it, is the version command.
  const [name, ...rest] = argv[0] === '--version' ? ['version', ...argv.slice(1)] : argv;
  if (name === 'help' && rest[0] !== undefined) return help(rest[0]);
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(await usage());
    return 0;
  }
  const loadAlone = LOADED_ALONE.get(name);
  const { COMMANDS } = loadAlone === undefined ? await import('./registry.js') : { COMMANDS: [await loadAlone()] };
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const { didYouMean } = await import('./options/suggest.js');
    console.error(`quorate: unknown command '${name}'${didYouMean(name, COMMANDS.map((c) => c.name), '')}; \`quorate help\` lists the commands`);
    return 3;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    // Bad input is one line and exit 3, never a stack trace.
    if (err instanceof UsageError) {
      console.error(`quorate ${name}: ${err.message}`);
      return 3;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 70;
  },
);
