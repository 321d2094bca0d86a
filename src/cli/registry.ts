import type { Command } from './command.js';
import { chaosCommand } from './commands/chaos.js';
import { checkCommand } from './commands/check.js';
import { compareCommand } from './commands/compare.js';
import { completionCommand } from './commands/completion.js';
import { devCommand } from './commands/dev.js';
import { keysCommand } from './commands/keys.js';
import { serveCommand } from './commands/serve.js';
import { simCommand } from './commands/sim.js';
import { snapshotCommand } from './commands/snapshot.js';
import { versionCommand } from './commands/version.js';

/** Every subcommand of `quorate`, in the order `quorate help` lists them. */
export const COMMANDS: readonly Command[] = [
  devCommand,
  serveCommand,
  keysCommand,
  snapshotCommand,
  simCommand,
  checkCommand,
  compareCommand,
  chaosCommand,
  versionCommand,
  completionCommand,
];
