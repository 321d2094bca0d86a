/**
 * Data-driven scenario files: a script of commands, each followed by `----` and the output it
 * is expected to print, ended by a blank line (the idea of etcd-io/raft's testdata; this is our
 * own small reading of it).
 *
 *   # a comment
 *   propose n1 x
 *   ----
 *   ok: index 4 term 1
 *
 * A command is one line of words (`key=value`, `key=(a,b)` and "quoted words" allowed), then
 * optionally more input lines before the `----`. Expected output never holds a blank line (it
 * ends the block), so a command that prints nothing prints `ok`.
 *
 * `REWRITE=1` writes every observed output back into the file instead of comparing: the way to
 * regenerate expectations after an intended change (then read the diff before committing).
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Directive {
  /** 1-based line of the command in the file. */
  readonly line: number;
  readonly command: string;
  /** Positional words after the command, in order. */
  readonly args: readonly string[];
  /** `key=value` words; `key=(a,b)` gives "a,b". Repeated keys: the last one wins. */
  readonly options: ReadonlyMap<string, string>;
  /** Lines between the command line and `----`. */
  readonly input: readonly string[];
  readonly expected: string;
  /** The command line as written. */
  readonly text: string;
  /** 0-based line range [from, to) of the expected output in the file. */
  readonly expectedFrom: number;
  readonly expectedTo: number;
}

export const SEPARATOR = '----';

/** Split a command line into words; "double quoted" words may hold spaces, `(a, b)` lists too. */
export function words(line: string): string[] {
  return tokens(line).map((t) => t.text);
}

/** Words, and whether each was quoted (a quoted word is always positional, even with an `=`). */
function tokens(line: string): { text: string; quoted: boolean }[] {
  const out: { text: string; quoted: boolean }[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let word = '';
    let quoted = false;
    let depth = 0;
    while (i < line.length && (depth > 0 || (line[i] !== ' ' && line[i] !== '\t'))) {
      const ch = line[i]!;
      if (ch === '"') {
        const end = line.indexOf('"', i + 1);
        if (end < 0) throw new Error(`unterminated quote in: ${line}`);
        word += line.slice(i + 1, end);
        quoted = true;
        i = end + 1;
        continue;
      }
      if (ch === '(') depth++;
      if (ch === ')') depth--;
      if (depth > 0 && (ch === ' ' || ch === '\t')) {
        i++;
        continue; // spaces inside a list are only for the eye
      }
      word += ch;
      i++;
    }
    out.push({ text: word, quoted });
  }
  return out;
}

function parseCommandLine(text: string): { command: string; args: string[]; options: Map<string, string> } {
  const [first, ...rest] = tokens(text);
  if (first === undefined) throw new Error('empty command');
  const command = first.text;
  const args: string[] = [];
  const options = new Map<string, string>();
  for (const { text: w, quoted } of rest) {
    const eq = w.indexOf('=');
    // `a=b` is an option; a comparison such as `term>=4` and a "quoted=word" stay positional.
    if (!quoted && eq > 0 && !/[<>!]$/.test(w.slice(0, eq))) {
      let value = w.slice(eq + 1);
      if (value.startsWith('(') && value.endsWith(')')) value = value.slice(1, -1);
      options.set(w.slice(0, eq), value);
    } else {
      args.push(w);
    }
  }
  return { command, args, options };
}

/** A command written on one line (the body of a `repeat`), as a directive without expected output. */
export function commandDirective(text: string, line: number): Directive {
  const { command, args, options } = parseCommandLine(text);
  return { line, command, args, options, input: [], text, expected: '', expectedFrom: 0, expectedTo: 0 };
}

/** Parse a scenario file. Throws with file:line on a malformed directive. */
export function parseScenario(text: string, file: string): Directive[] {
  const lines = text.split('\n');
  const out: Directive[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i]!;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) {
      i++;
      continue;
    }
    const start = i;
    const input: string[] = [];
    i++;
    while (i < lines.length && lines[i] !== SEPARATOR) {
      if (lines[i]!.trim() === '') throw new Error(`${file}:${start + 1}: '${raw}' has no ${SEPARATOR} line and expected output`);
      input.push(lines[i]!);
      i++;
    }
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: '${raw}' has no ${SEPARATOR} line and expected output`);
    i++; // the separator
    const expectedFrom = i;
    while (i < lines.length && lines[i]!.trim() !== '') i++;
    const expectedTo = i;
    const { command, args, options } = parseCommandLine(raw);
    out.push({
      line: start + 1, command, args, options, input, text: raw,
      expected: lines.slice(expectedFrom, expectedTo).join('\n'), expectedFrom, expectedTo,
    });
  }
  return out;
}

/** What a command printed, made fit for a block: no trailing spaces, no blank lines, `ok` if empty. */
export function normalizeOutput(output: string): string {
  const lines = output.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  return lines.length === 0 ? 'ok' : lines.join('\n');
}

/** Something a scenario file runs its commands against. */
export interface CommandRunner {
  run(d: Directive): string;
}

export class ScenarioMismatch extends Error {
  override readonly name = 'ScenarioMismatch';
}

/**
 * Run every directive of `file` against a fresh runner. Compare outputs (throw at the first
 * mismatch, naming file:line, the command, and what was expected and got), or with `rewrite`
 * write the observed outputs back into the file.
 */
export function runScenarioFile(file: string, displayName: string, makeRunner: () => CommandRunner, rewrite: boolean): void {
  const text = readFileSync(file, 'utf8');
  const directives = parseScenario(text, displayName);
  const runner = makeRunner();
  const observed: string[] = [];
  for (const d of directives) {
    let got: string;
    try {
      got = normalizeOutput(runner.run(d));
    } catch (err) {
      if (err instanceof ScenarioMismatch) throw err;
      const e = err as Error;
      throw new Error(`${displayName}:${d.line}: '${d.text}' failed to run: ${e.stack ?? e.message}`);
    }
    observed.push(got);
    if (!rewrite && got !== d.expected) {
      throw new ScenarioMismatch(mismatchReport(displayName, d, got));
    }
  }
  if (rewrite) {
    const lines = text.split('\n');
    for (let k = directives.length - 1; k >= 0; k--) {
      const d = directives[k]!;
      lines.splice(d.expectedFrom, d.expectedTo - d.expectedFrom, ...observed[k]!.split('\n'));
    }
    const next = lines.join('\n');
    if (next !== text) writeFileSync(file, next);
  }
}

function mismatchReport(file: string, d: Directive, got: string): string {
  const indent = (s: string) => s.split('\n').map((l) => `    ${l}`).join('\n');
  return [
    `${file}:${d.line}: output of '${d.text}' differs`,
    '  expected:', indent(d.expected === '' ? '(nothing)' : d.expected),
    '  got:', indent(got),
    '  diff (- expected, + got):', indent(lineDiff(d.expected.split('\n'), got.split('\n'))),
    '  (if the change is intended: REWRITE=1 node --test <this test> regenerates the file; review its diff)',
  ].join('\n');
}

/** A small line diff (longest common subsequence), for mismatch reports. */
export function lineDiff(a: readonly string[], b: readonly string[]): string {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${a[i]}`);
      i++;
    } else {
      out.push(`+ ${b[j]}`);
      j++;
    }
  }
  return out.join('\n');
}
