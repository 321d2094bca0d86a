import { readFileSync } from 'node:fs';
import { defineCommand } from '../command.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const versionCommand = defineCommand({
  name: 'version',
  summary: 'print the quorate version',
  options: {},
  exitCodes: [[0, 'always'], [3, 'bad input (an unknown option)']],
  async run() {
    console.log(`quorate ${packageVersion()} (node ${process.version})`);
    return 0;
  },
});
