/**
 * Raw option values (from the command line, or a fallback such as etcd's environment variables)
 * into checked, typed values with defaults. A bad value is a UsageError naming where it came from.
 */
import { UsageError } from '../command.js';
import { parseGoDurationMs } from '../../core/duration.js';
import type { DurationOption, IntegerOption, Options, OptionSpec, RawValue, Sourced, Values } from './types.js';

/** Go's strconv.ParseBool, which etcd's boolean flags and variables go through. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/**
 * An integer option's value: decimal digits and nothing else (no sign, space, point, exponent or
 * 0x), and no leading zero: etcd's flags read integers as Go does with base 0, where 01000 is
 * octal (512), so a leading zero would mean one number to etcd and another to quorate.
 */
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function integerRule(o: IntegerOption): string {
  if (o.max !== undefined) return `an integer from ${o.min} to ${o.max}`;
  if (o.min === 1) return 'a positive integer';
  if (o.min === 0) return 'a non-negative integer';
  return `an integer of at least ${o.min}`;
}

/**
 * The longest duration: Node's timers fire at once, not late, for a delay above 2^31-1 ms
 * (about 24.8 days), so a longer interval would run continuously instead of rarely.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** A duration option's value in whole milliseconds; anything else is bad input naming `label`. */
function duration(spec: DurationOption, label: string, s: string): number {
  const ms = parseGoDurationMs(s);
  const kind = spec.zero === true ? 'a duration' : 'a positive duration';
  if (ms === null || ms < 0) throw new UsageError(`${label} must be ${kind} such as 500ms, 1m30s or 1.5h, got '${s}'`);
  // A positive duration under half a millisecond is 1 ms, never 0 (which may mean "off").
  const whole = ms > 0 && ms < 1 ? 1 : Math.round(ms);
  if (whole === 0 && spec.zero !== true) throw new UsageError(`${label} must be at least 1ms, got '${s}'`);
  if (whole > MAX_DURATION_MS) throw new UsageError(`${label} must be at most ${MAX_DURATION_MS}ms (about 24.8 days), got '${s}'`);
  return whole;
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
    // Plain decimal digits only: Number() would also take '1e3', ' 7' and '1.0', which etcd
    // refuses, and '0x10', which etcd reads as Go base-0 syntax; quorate keeps to one spelling.
    if (!DECIMAL.test(s) || !Number.isSafeInteger(n) || n < spec.min || (spec.max !== undefined && n > spec.max)) {
      throw new UsageError(`${label} must be ${integerRule(spec)}, got '${s}'`);
    }
    return n;
  }
  if (spec.type === 'duration') return duration(spec, label, s);
  if (spec.choices !== undefined && !spec.choices.includes(s)) {
    throw new UsageError(`${label} must be one of ${spec.choices.join(', ')}, got '${s}'`);
  }
  return s;
}

/**
 * Every option's value: the command line's, else the fallback's (etcd's variables or config
 * file, for serve), else its default. `given` says which came from anywhere but a default, and
 * `from` where each of those came from (its label), so a later check can name it.
 */
export function resolveValues<O extends Options>(options: O, commandLine: ReadonlyMap<string, RawValue>, fallback: ReadonlyMap<string, Sourced> = new Map()): { values: Values<O>; given: Set<keyof O & string>; from: Map<keyof O & string, string> } {
  const values: Record<string, unknown> = {};
  const given = new Set<keyof O & string>();
  const from = new Map<keyof O & string, string>();
  for (const [name, spec] of Object.entries(options)) {
    const typed = commandLine.get(name);
    const source: Sourced | undefined = typed !== undefined ? { value: typed, label: `--${name}` } : fallback.get(name);
    if (source !== undefined) {
      values[name] = one(spec, source.label, source.value);
      given.add(name);
      from.set(name, source.label);
    } else if (spec.type === 'boolean') {
      values[name] = false;
    } else if (spec.type === 'string' && spec.multiple === true) {
      values[name] = [];
    } else if (spec.type === 'duration') {
      values[name] = spec.default === undefined ? undefined : duration(spec, `--${name}'s default`, spec.default);
    } else {
      values[name] = spec.default;
    }
  }
  return { values: values as Values<O>, given, from };
}
