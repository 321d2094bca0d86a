/** `quorate CMD --help`, made from the command's declarations. */
import type { CommandInfo } from '../command.js';
import type { OptionSpec } from './types.js';

const WIDTH = 100;
/** Choices longer than this are listed in the help text instead of as the value's name. */
const INLINE_CHOICES = 32;

/** The value's name in usage text: its placeholder, its choices (a|b|c) or its type's. */
export function valueName(spec: OptionSpec): string {
  if (spec.type === 'boolean') return '';
  if (spec.placeholder !== undefined) return spec.placeholder;
  if (spec.type === 'string' && spec.choices !== undefined && spec.choices.join('|').length <= INLINE_CHOICES) return spec.choices.join('|');
  return spec.type === 'integer' ? 'N' : spec.type === 'duration' ? 'DURATION' : 'VALUE';
}

/** `-h, --help` or `--nodes N`. */
export function flagText(name: string, spec: OptionSpec): string {
  const v = valueName(spec);
  return `${spec.short === undefined ? '' : `-${spec.short}, `}--${name}${v === '' ? '' : ` ${v}`}`;
}

/** The default as help shows it, or undefined when there is none worth saying. */
export function defaultText(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.type === 'boolean' || spec.default === undefined) return undefined;
  return spec.type === 'integer' ? String(spec.default) : JSON.stringify(spec.default);
}

/** The help sentence with what the declaration adds: choices, repeatability, default. */
export function describeOption(spec: OptionSpec): string {
  const parts = [spec.help];
  if (spec.type === 'string' && spec.choices !== undefined && valueName(spec) !== spec.choices.join('|')) parts.push(`One of: ${spec.choices.join(', ')}.`);
  if (spec.type === 'string' && spec.multiple === true) parts.push('Repeatable.');
  const d = defaultText(spec);
  if (d !== undefined) parts.push(`(default ${d})`);
  return parts.join(' ');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line !== '' && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line === '' ? word : `${line} ${word}`;
      }
    }
    lines.push(line);
  }
  return lines;
}

export function usageLines(info: CommandInfo): string[] {
  return (info.usage ?? ['[options]']).map((u, i) => `${i === 0 ? 'usage:' : '      '} quorate ${info.name} ${u}`);
}

export function helpText(info: CommandInfo): string {
  const rows = Object.entries(info.options).map(([name, spec]) => [flagText(name, spec), describeOption(spec)] as const);
  const column = Math.min(38, Math.max(...rows.map(([f]) => f.length)) + 2);
  const options = rows.flatMap(([flag, text]) => {
    const body = wrap(text, WIDTH - column - 2);
    // A flag too long for the column gets its text on the lines below.
    const head = flag.length + 2 <= column ? [`  ${flag.padEnd(column)}${body.shift() ?? ''}`] : [`  ${flag}`];
    return [...head, ...body.map((l) => `  ${' '.repeat(column)}${l}`)];
  });
  const exits = info.exitCodes.map(([code, meaning]) => `  ${code}  ${meaning}`);
  return [
    ...usageLines(info),
    ...(info.description === undefined ? [] : ['', ...wrap(info.description, WIDTH)]),
    '',
    'options:',
    ...options,
    '',
    'exit codes:',
    ...exits,
    ...(info.json === undefined ? [] : ['', 'With --json: one JSON object per line, described in docs/cli.md.']),
  ].join('\n');
}
