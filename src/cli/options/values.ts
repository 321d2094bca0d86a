/**
 * Raw option values (from the command line, or a fallback such as etcd's environment variables)
 * into checked, typed values with defaults. A bad value is a UsageError naming where it came from.
 */
import { UsageError } from '../command.js';
import type { IntegerOption, Options, OptionSpec, RawValue, Sourced, Values } from './types.js';

/** Go's strconv.ParseBool, which etcd's boolean flags and variables go through. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

function integerRule(o: IntegerOption): string {
  if (o.max !== undefined) return `an integer from ${o.min} to ${o.max}`;
  if (o.min === 1) return 'a positive integer';
  if (o.min === 0) return 'a non-negative integer';
  return `an integer of at least ${o.min}`;
}

function one(spec: OptionSpec, label: string, value: RawValue): unknown {
  if (spec.type === 'boolean') {
    if (typeof value === 'boolean') return value;
    const s = String(value);
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
    throw new UsageError(`${label} is true or false, got '${s}'`);
  }
  if (spec.type === 'string' && spec.multiple === true) return Array.isArray(value) ? value : [String(value)];
  const s = Array.isArray(value) ? value.join(',') : String(value);
  if (spec.type === 'integer') {
    const n = Number(s);
    if (s.trim() === '' || !Number.isSafeInteger(n) || n < spec.min || (spec.max !== undefined && n > spec.max)) {
      throw new UsageError(`${label} must be ${integerRule(spec)}, got '${s}'`);
    }
    return n;
  }
  if (spec.choices !== undefined && !spec.choices.includes(s)) {
    throw new UsageError(`${label} must be one of ${spec.choices.join(', ')}, got '${s}'`);
  }
  return s;
}

/**
 * Every option's value: the command line's, else the fallback's (etcd's variables or config
 * file, for serve), else its default. `given` says which came from anywhere but a default.
 */
export function resolveValues<O extends Options>(options: O, commandLine: ReadonlyMap<string, RawValue>, fallback: ReadonlyMap<string, Sourced> = new Map()): { values: Values<O>; given: Set<keyof O & string> } {
  const values: Record<string, unknown> = {};
  const given = new Set<keyof O & string>();
  for (const [name, spec] of Object.entries(options)) {
    const typed = commandLine.get(name);
    const source: Sourced | undefined = typed !== undefined ? { value: typed, label: `--${name}` } : fallback.get(name);
    if (source !== undefined) {
      values[name] = one(spec, source.label, source.value);
      given.add(name);
    } else if (spec.type === 'boolean') {
      values[name] = false;
    } else if (spec.type === 'string' && spec.multiple === true) {
      values[name] = [];
    } else {
      values[name] = spec.default;
    }
  }
  return { values: values as Values<O>, given };
}
