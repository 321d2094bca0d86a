/** What a shell should offer for an option's value, from its declaration: both scripts agree on it. */
import type { OptionSpec } from '../options/types.js';

export type ValueKind = { kind: 'none' } | { kind: 'flag' } | { kind: 'words'; words: readonly string[] } | { kind: 'file' } | { kind: 'dir' };

export function valueKind(spec: OptionSpec): ValueKind {
  if (spec.type === 'boolean') return { kind: 'flag' };
  if (spec.type === 'string' && spec.choices !== undefined) return { kind: 'words', words: spec.choices };
  if (spec.type === 'string' && spec.suggestions !== undefined) return { kind: 'words', words: spec.suggestions };
  if (spec.placeholder === 'FILE') return { kind: 'file' };
  if (spec.placeholder === 'DIR') return { kind: 'dir' };
  return { kind: 'none' };
}

/** The top-level words after `quorate`: every command, and `help`. */
export const HELP_WORD = 'help';
