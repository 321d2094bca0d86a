/** `quorate completion bash|zsh`: a shell completion script, made from every command's declarations. */
import { defineCommand, UsageError } from '../command.js';
import { bashScript } from '../completion/bash.js';
import { zshScript } from '../completion/zsh.js';
import { HELP_TOPICS } from '../help-topics.js';

const SHELLS = { bash: bashScript, zsh: zshScript } as const;

export const completionCommand = defineCommand({
  name: 'completion',
  summary: 'completion bash|zsh: print a shell completion script',
  usage: ['bash|zsh'],
  description: 'Prints a completion script for the shell. bash: source <(quorate completion bash). zsh (after compinit): source <(quorate completion zsh), or save it as _quorate in a directory on $fpath.',
  options: {},
  positionals: { words: Object.keys(SHELLS) },
  exitCodes: [[0, 'the script was printed'], [3, 'bad input (no shell, or one quorate has no script for)']],
  async run({ positionals }) {
    const shell = positionals[0];
    if ((shell !== 'bash' && shell !== 'zsh') || positionals.length !== 1) {
      throw new UsageError(`expected 'bash' or 'zsh', got ${positionals.length === 0 ? 'nothing' : `'${positionals.join(' ')}'`}`);
    }
    const make = SHELLS[shell];
    // Imported here, not above: the registry lists this command, so it would be a cycle.
    const { COMMANDS } = await import('../registry.js');
    process.stdout.write(make(COMMANDS, HELP_TOPICS));
    return 0;
  },
});
