import type { Command } from './command.js';
import { versionCommand } from './commands/version.js';

/** Every subcommand of `quorate`, in the order `quorate help` lists them. */
export const COMMANDS: readonly Command[] = [
  versionCommand,
];
