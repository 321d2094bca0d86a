#!/usr/bin/env node
import { UsageError } from './command.js';
import { COMMANDS } from './registry.js';
import { DEFAULT_PROTOCOL, PROTOCOLS } from '../protocols/registry.js';

function usage(): string {
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
    'Run `quorate <command> --help` for a command\'s options.',
  ].join('\n');
}

/** Every protocol the registry has, with what it is and what it tolerates. */
function protocolsHelp(): string {
  const width = Math.max(...[...PROTOCOLS.keys()].map((n) => n.length));
  return [
    'protocols (`--protocol NAME` for serve, dev, sim and snapshot restore):',
    ...[...PROTOCOLS.values()].map((p) => `  ${p.name.padEnd(width)}  ${p.summary}; tolerates ${p.faultModel === 'byzantine' ? 'lying (Byzantine) members' : 'crashes'}${p.keys === 'per-member' ? '; members need keys (`quorate keys generate`)' : ''}${p.name === DEFAULT_PROTOCOL ? ' (default)' : ''}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] === 'protocols') {
    console.log(protocolsHelp());
    return 0;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    console.error(`quorate: unknown command '${name}'\n\n${usage()}`);
    return 3;
  }
  try {
    return await command.run(rest);
  } catch (err) {
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
