/** `quorate completion zsh`: a zsh completion function (_arguments) made from the commands' declarations. */
import type { CommandInfo } from '../command.js';
import type { OptionSpec } from '../options/types.js';
import { HELP_WORD, valueKind } from './value-kind.js';

/** Text inside '...' in an _arguments spec: no quote, and no brackets or colons zsh would read. */
function escape(text: string): string {
  return text.replace(/([[\]:\\])/g, '\\$1').replace(/'/g, '\'\\\'\'');
}

/** The help's first sentence, short enough for a completion menu. */
function brief(help: string): string {
  const first = help.split(/(?<=[.;])\s/)[0] ?? help;
  return first.replace(/[.;]$/, '').slice(0, 80);
}

function optionSpec(name: string, spec: OptionSpec): string {
  const v = valueKind(spec);
  const help = `[${escape(brief(spec.help))}]`;
  const repeat = spec.type === 'string' && spec.multiple === true ? '*' : '';
  const names = spec.short === undefined ? `'${repeat}--${name}` : `'(-${spec.short} --${name})'{-${spec.short},--${name}}'`;
  const value = v.kind === 'flag' ? '' : '=';
  const action = v.kind === 'words' ? `:${escape(spec.placeholder ?? name)}:(${v.words.join(' ')})`
    : v.kind === 'file' ? ':FILE:_files'
    : v.kind === 'dir' ? ':DIR:_files -/'
    : v.kind === 'none' ? `:${escape(spec.placeholder ?? 'VALUE')}: `
    : '';
  return `${names}${value}${help}${action}'`;
}

export function zshScript(commands: readonly CommandInfo[], helpTopics: readonly string[]): string {
  const list = [...commands.map((c) => `'${c.name}:${escape(c.summary)}'`), `'${HELP_WORD}:describe a command or the protocols'`];
  const branches = commands.map((c) => {
    const specs = Object.entries(c.options).map(([name, spec]) => optionSpec(name, spec));
    if (c.positionals?.words !== undefined) specs.push(`'1:subcommand:(${c.positionals.words.join(' ')})'`);
    if (c.positionals !== undefined) specs.push('\'*:file:_files\'');
    return `    ${c.name})\n      _arguments -s \\\n        ${specs.join(' \\\n        ')}\n      ;;`;
  });
  return `#compdef quorate
# zsh completion for quorate, made by \`quorate completion zsh\` from its option declarations.
# Load it with: source <(quorate completion zsh)   (after compinit), or save it as _quorate on $fpath.
_quorate() {
  local -a commands
  commands=(${list.join(' ')})
  if (( CURRENT == 2 )); then
    _describe -t commands 'quorate command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${branches.join('\n')}
    ${HELP_WORD}) _values 'topic' ${[...helpTopics, ...commands.map((c) => c.name)].join(' ')} ;;
  esac
}
if [ "$funcstack[1]" = "_quorate" ]; then
  _quorate "$@"
else
  compdef _quorate quorate
fi
`;
}
