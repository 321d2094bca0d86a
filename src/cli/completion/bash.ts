/** `quorate completion bash`: a bash completion function made from the commands' declarations. */
import type { CommandInfo } from '../command.js';
import { HELP_WORD, valueKind } from './value-kind.js';

function optionCases(info: CommandInfo): string[] {
  const cases: string[] = [];
  for (const [name, spec] of Object.entries(info.options)) {
    const v = valueKind(spec);
    const flags = [`--${name}`, ...(spec.short === undefined ? [] : [`-${spec.short}`])].join('|');
    if (v.kind === 'flag') continue;
    const reply = v.kind === 'words' ? `COMPREPLY=($(compgen -W "${v.words.join(' ')}" -- "$cur"))`
      : v.kind === 'file' ? 'COMPREPLY=($(compgen -f -- "$cur"))'
      : v.kind === 'dir' ? 'COMPREPLY=($(compgen -d -- "$cur"))'
      : 'COMPREPLY=()'; // a value to type: offer no flags in its place
    cases.push(`        ${flags}) ${reply}; return ;;`);
  }
  return cases;
}

export function bashScript(commands: readonly CommandInfo[], helpTopics: readonly string[]): string {
  const names = [...commands.map((c) => c.name), HELP_WORD];
  const branches = commands.map((c) => {
    const opts = Object.entries(c.options).flatMap(([name, s]) => [`--${name}`, ...(s.short === undefined ? [] : [`-${s.short}`])]);
    const cases = optionCases(c);
    return [
      `    ${c.name})`,
      ...(cases.length === 0 ? [] : ['      case "$prev" in', ...cases, '      esac']),
      `      opts="${opts.join(' ')}"`,
      `      words="${(c.positionals?.words ?? []).join(' ')}"`,
      `      files=${c.positionals === undefined ? 0 : 1}`,
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for quorate, made by \`quorate completion bash\` from its option declarations.
# Load it with: source <(quorate completion bash)
_quorate() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local opts="" words="" files=0
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names.join(' ')}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${branches.join('\n')}
    ${HELP_WORD}) words="${[...helpTopics, ...commands.map((c) => c.name)].join(' ')}" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [ -n "$words" ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  elif [ "$files" -eq 1 ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=()
  fi
}
complete -F _quorate quorate
`;
}
