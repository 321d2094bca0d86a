/**
 * etcd's --config-file: a YAML map whose keys are etcd's flag names, TLS settings nested under
 * client-transport-security and peer-transport-security. The keys of the flags quorate has are
 * read; any other key that sets something is named in a warning rather than silently dropped.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { UsageError } from '../usage-error.js';
import { fileErrorReason } from '../file-errors.js';
import type { Options, RawValue, Sourced } from '../options/types.js';

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

function raw(v: unknown): RawValue {
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(String).join(',');
  return String(v);
}

export function readConfigFile(file: string, options: Options): { sources: Map<string, Sourced>; warnings: string[] } {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    // A file that cannot be read, or YAML that cannot be parsed: either way one line.
    const why = fileErrorReason(err) ?? (err as Error).message.split('\n')[0]!;
    throw new UsageError(`--config-file ${file}: ${why}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`--config-file ${file}: not a YAML map of etcd settings`);
  const byKey = new Map(Object.entries(options).filter(([name]) => name !== 'config-file').map(([name, o]) => [o.configKey ?? name, name]));
  const sources = new Map<string, Sourced>();
  const unsupported: string[] = [];
  for (const [key, value] of flatten(doc as Record<string, unknown>)) {
    const name = byKey.get(key);
    if (name === undefined) {
      if (setsSomething(value)) unsupported.push(key);
    } else if (value !== null && value !== undefined) {
      sources.set(name, { value: raw(value), label: `${key} in ${file}` });
    }
  }
  const warnings = unsupported.length === 0 ? [] : [`${file}: ignoring etcd settings quorate does not have: ${unsupported.join(', ')}`];
  return { sources, warnings };
}
