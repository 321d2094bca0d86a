/** Reading `key=value` words of a scenario: typed, and refusing names nobody reads (a typo must not pass silently). */
import { nodeId, type NodeId } from '../../../src/core/ids.js';
import { UsageError } from './environment.js';

export function refuseUnknown(options: ReadonlyMap<string, string>, known: readonly string[], where: string): void {
  for (const k of options.keys()) {
    if (!known.includes(k)) throw new UsageError(`${where} has no option '${k}'; known: ${[...known].sort().join(', ')}`);
  }
}

export function boolValue(key: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new UsageError(`${key}=${v}: say true or false`);
}

export function intValue(key: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`${key}=${v} is not an integer`);
  return n;
}

export function listValue(v: string | undefined): string[] {
  return (v ?? '').split(',').filter((s) => s !== '');
}

/** `i/t` (an index and a term, e.g. prev=3/1) → [i, t]. */
export function indexTerm(key: string, v: string | undefined): [number, number] {
  const [i, t] = (v ?? '').split('/');
  if (i === undefined || t === undefined) throw new UsageError(`${key}=${v ?? ''}: write index/term, e.g. ${key}=3/1`);
  return [intValue(key, i), intValue(key, t)];
}

/** The options of a joint configuration change, `voters=(n1,n4) learners=(n5) [autoLeave=false]`: read alike by every protocol with joint consensus. */
export function jointChangeOptions(options: ReadonlyMap<string, string>): { voters: NodeId[]; learners: NodeId[]; autoLeave?: boolean } {
  refuseUnknown(options, ['voters', 'learners', 'autoLeave'], 'a joint change');
  const autoLeave = options.has('autoLeave') ? { autoLeave: boolValue('autoLeave', options.get('autoLeave')!) } : {};
  return { voters: listValue(options.get('voters')).map(nodeId), learners: listValue(options.get('learners')).map(nodeId), ...autoLeave };
}
