/**
 * etcd's environment variables: every etcd flag FLAG-NAME is also ETCD_FLAG_NAME, and a flag on
 * the command line wins over its variable. Containers and Kubernetes manifests configure etcd
 * this way, so `quorate serve` reads the variables of the etcd flags it has and names the others.
 */
import type { Options, RawValue, Sourced } from '../options/types.js';

export const CONFIG_FILE_VARIABLE = 'ETCD_CONFIG_FILE';

/**
 * The ETCD_* variables that say something. etcd skips an empty one (`if val != ""`), so
 * `ETCD_NAME=` leaves the name at its default rather than making it empty; so does quorate.
 */
export function etcdVariables(env: NodeJS.ProcessEnv): [string, string][] {
  return Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('ETCD_') && e[1] !== undefined && e[1] !== '');
}

/** ETCD_LISTEN_CLIENT_URLS for listen-client-urls. */
export function variableOf(flag: string): string {
  return `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The etcd flags' values from the environment, and warnings for the variables not used. */
export function fromEnvironment(options: Options, env: NodeJS.ProcessEnv, commandLine: ReadonlyMap<string, RawValue>): { sources: Map<string, Sourced>; warnings: string[] } {
  const flags = new Map(Object.entries(options).filter(([, o]) => o.etcd === true).map(([name]) => [variableOf(name), name]));
  const sources = new Map<string, Sourced>();
  const unknown: string[] = [];
  const shadowed: string[] = [];
  for (const [variable, value] of etcdVariables(env)) {
    if (variable === CONFIG_FILE_VARIABLE) continue;
    const name = flags.get(variable);
    if (name === undefined) unknown.push(variable);
    else if (commandLine.has(name)) shadowed.push(`${variable} (--${name} is given)`);
    else sources.set(name, { value, label: variable });
  }
  const warnings: string[] = [];
  // As etcd does, a variable the command line overrides is mentioned, so the operator knows which won.
  if (shadowed.length > 0) warnings.push(`ignoring environment variables shadowed by flags: ${shadowed.sort().join(', ')}`);
  if (unknown.length > 0) warnings.push(`ignoring environment variables for etcd settings quorate does not have: ${unknown.sort().join(', ')}`);
  return { sources, warnings };
}
