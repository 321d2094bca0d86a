import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the quorate version',
  async run() {
    console.log(`quorate ${packageVersion()} (node ${process.version})`);
    return 0;
  },
};
