/**
 * etcd's --config-file: a YAML map whose keys are etcd's flag names, TLS settings nested under
 * client-transport-security and peer-transport-security. The keys of the flags quorate has are
 * read; any other key that sets something is named in a warning rather than silently dropped.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { UsageError } from '../usage-error.js';
import { fileErrorReason } from '../file-errors.js';
import type { OptionSpec, Options, RawValue, Sourced } from '../options/types.js';

/** The etcd settings, each at its key path (`name`, `client-transport-security.cert-file`). */
function flatten(doc: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(doc)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value)) out.set(`${key}.${inner}`, v);
    } else {
      out.set(key, value);
    }
  }
  return out;
}

/** etcd's sample file lists settings left empty or off: those ask nothing of quorate. */
function setsSomething(v: unknown): boolean {
  return v !== null && v !== undefined && v !== false && v !== '' && !(Array.isArray(v) && v.length === 0);
}

/**
 * A YAML value as the option's raw value. etcd unmarshals a duration key into a Go
 * time.Duration, so a file written for etcd holds an integer of nanoseconds there (a unit string
 * such as `10m` is accepted too). A list goes only to an option that takes several values.
 */
function raw(v: unknown, spec: OptionSpec, label: string): RawValue {
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    if (spec.type !== 'string' || spec.multiple !== true) throw new UsageError(`${label} takes one value, not a list`);
    return v.map(String).join(',');
  }
  if (spec.type === 'duration' && typeof v === 'number') return `${v}ns`;
  return String(v);
}

/** `from`: where the file was named (`--config-file` or `ETCD_CONFIG_FILE`), for its errors. */
export function readConfigFile(file: string, options: Options, from = '--config-file'): { sources: Map<string, Sourced>; warnings: string[] } {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    // A file that cannot be read, or YAML that cannot be parsed: either way one line.
    const why = fileErrorReason(err) ?? (err as Error).message.split('\n')[0]!;
    throw new UsageError(`${from} ${file}: ${why}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${from} ${file}: not a YAML map of etcd settings`);
  const byKey = new Map(Object.entries(options).filter(([name]) => name !== 'config-file').map(([name, o]) => [o.configKey ?? name, name]));
  const sources = new Map<string, Sourced>();
  const unsupported: string[] = [];
  for (const [key, value] of flatten(doc as Record<string, unknown>)) {
    const name = byKey.get(key);
    if (name !== undefined && options[name]!.commandLineOnly === true) {
      if (setsSomething(value)) throw new UsageError(`${from} ${file}: ${key} is taken from the command line only (--${name})`);
    } else if (name === undefined) {
      if (setsSomething(value)) unsupported.push(key);
    } else if (value !== null && value !== undefined) {
      const label = `${key} in ${file}`;
      sources.set(name, { value: raw(value, options[name]!, label), label });
    }
  }
  const warnings = unsupported.length === 0 ? [] : [`${file}: ignoring etcd settings quorate does not have: ${unsupported.join(', ')}`];
  return { sources, warnings };
}
