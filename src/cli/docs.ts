/**
 * docs/cli.md, made from the commands' declarations (`node scripts/cli-docs.mjs` writes it; a
 * test fails when the file in the repository is not what this renders).
 */
import type { CommandInfo } from './command.js';
import { variableOf } from './etcd/environment.js';
import { defaultText, describeOption, usageLines, valueName } from './options/help.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function optionTable(c: CommandInfo): string[] {
  const etcd = Object.values(c.options).some((o) => o.etcd === true);
  const head = etcd ? '| option | value | default | etcd variable | etcd config key | meaning |\n| --- | --- | --- | --- | --- | --- |' : '| option | value | default | meaning |\n| --- | --- | --- | --- |';
  const rows = Object.entries(c.options).map(([name, o]) => {
    const flag = `\`--${name}\`${o.short === undefined ? '' : ` (\`-${o.short}\`)`}`;
    const value = valueName(o) === '' ? '' : cell(`\`${valueName(o)}\``);
    const d = defaultText(o) ?? '';
    // The meaning without the default, which has its own column.
    const meaning = describeOption(o).replace(/ \(default [^)]*\)$/, '');
    const etcdCells = !etcd ? [] : o.etcd === true
      ? [name === 'config-file' ? '`ETCD_CONFIG_FILE`' : `\`${variableOf(name)}\``, name === 'config-file' ? '' : `\`${o.configKey ?? name}\``]
      : ['', ''];
    return `| ${[flag, value, cell(d), ...etcdCells, cell(meaning)].join(' | ')} |`;
  });
  return [head, ...rows];
}

function commandSection(c: CommandInfo): string[] {
  return [
    `## quorate ${c.name}`,
    '',
    `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`,
    '',
    '```',
    ...usageLines(c),
    '```',
    ...(c.description === undefined ? [] : ['', c.description]),
    '',
    ...optionTable(c),
    '',
    '| exit code | meaning |',
    '| --- | --- |',
    ...c.exitCodes.map(([code, meaning]) => `| ${code} | ${cell(meaning)} |`),
    ...(c.json === undefined ? [] : [
      '',
      `With \`--json\`, \`quorate ${c.name}\` prints one JSON object per line and nothing else on standard output. Every object has a \`type\`; the field names are stable (new fields may be added, none renamed or removed).`,
      ...c.json.flatMap((r) => [
        '',
        `\`"type": "${r.type}"\`: ${r.help}.`,
        '',
        '| field | meaning |',
        '| --- | --- |',
        ...r.fields.map(([f, m]) => `| \`${f}\` | ${cell(m)} |`),
      ]),
    ]),
    '',
  ];
}

export function cliDoc(commands: readonly CommandInfo[]): string {
  return [
    '# The quorate command line',
    '',
    '<!-- Generated from the option declarations in src/cli/commands/ by `node scripts/cli-docs.mjs` (after `npm run build`). Do not edit by hand: test/cli/docs.test.ts fails when this file is stale. -->',
    '',
    'Every command takes `--help`. Options are written `--flag value`, `--flag=value` or, as etcd\'s Go flags allow, `-flag value`; a boolean flag takes no value, or `--flag=true|false`. A mistyped option or a bad value prints one line, e.g. `quorate sim: unknown option \'--seed\' (did you mean \'--seeds\'?)`, and exits with code 3, whichever the command.',
    '',
    '`quorate completion bash` and `quorate completion zsh` print shell completion scripts made from the same declarations as this page.',
    '',
    '## etcd\'s environment variables and config file (`quorate serve`)',
    '',
    'Each `quorate serve` option that is also an etcd flag (the table below names its variable and config key) is read as etcd reads it:',
    '',
    '- from the command line;',
    '- else from its environment variable, `ETCD_` and the flag\'s name in capitals with `_` for `-` (`ETCD_LISTEN_CLIENT_URLS`); a variable shadowed by a flag is named in a warning;',
    '- else its default.',
    '',
    'With `--config-file FILE` (or `ETCD_CONFIG_FILE`), as with etcd, the YAML file replaces the etcd flags and variables: those given anyway are named in a warning. Its keys are etcd\'s flag names; the TLS settings nest under `client-transport-security` and `peer-transport-security` (`cert-file`, `key-file`, `trusted-ca-file`, `client-cert-auth`). quorate\'s own options (`--protocol`, the `--bft-*` keys, `--peer-secret-file`, `--allow-insecure-key-permissions`) still apply from the command line and may also be keys of the file, except `--bft-insecure-keys-from-token` and `--unsafe-mutant`, which a file may not set: a switch that gives up security or safety shows on the command line.',
    '',
    'An etcd variable or config key quorate does not have (`ETCD_MAX_WALS`, `enable-pprof`, `cipher-suites`...) is named in a warning when serve starts, never silently dropped; config keys left empty or `false` set nothing and are not named.',
    '',
    ...commands.flatMap(commandSection),
  ].join('\n');
}
