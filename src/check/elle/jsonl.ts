/**
 * List-append histories as JSON lines, one transaction a line:
 *
 *   {"client":0,"txn":[["append","x",3],["r","y",[1,2]]],"outcome":"ok","invoke":100,"complete":112}
 *
 * - `txn`: micro-ops `["append", key, value]` and `["r", key, list]`; a key is a string (an
 *   integer is read as its decimal string), a value an integer or a string; a read's list is an
 *   array of values, or null when the key does not exist. Reads of a transaction that did not end
 *   ok are not known: write null.
 * - `outcome`: ok, fail (certainly did not commit) or unknown (may have committed).
 * - `invoke`, `complete`: times (ms); `complete` may be null or absent when the outcome is unknown.
 * Transactions are named T0, T1, … in the order of their lines. Blank lines and lines starting
 * with # are skipped.
 */
import { HistoryFormatError } from '../formats.js';
import type { ListValue, MicroOp, Txn } from './history.js';

interface JsonTxn {
  client: number;
  txn: unknown[];
  outcome: 'ok' | 'fail' | 'unknown';
  invoke: number;
  complete?: number | null;
}

export function toListAppendJsonLines(history: readonly Txn[]): string {
  return history.map((t) => {
    const o: JsonTxn = { client: t.client, txn: t.ops as unknown[], outcome: t.outcome, invoke: t.invokedAt, complete: Number.isFinite(t.completedAt) ? t.completedAt : null };
    return JSON.stringify(o);
  }).join('\n') + (history.length > 0 ? '\n' : '');
}

export function parseListAppendJsonLines(text: string, file: string): Txn[] {
  const out: Txn[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fail = (why: string): never => { throw new HistoryFormatError(file, i + 1, why); };
    let o: Partial<JsonTxn>;
    try {
      o = JSON.parse(line) as Partial<JsonTxn>;
    } catch {
      return fail('not valid JSON');
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) fail('expected a JSON object');
    if (typeof o.client !== 'number') fail('"client" must be a number');
    if (!['ok', 'fail', 'unknown'].includes(o.outcome as string)) fail('"outcome" must be ok, fail or unknown');
    if (typeof o.invoke !== 'number') fail('"invoke" must be a number');
    const unknown = o.outcome === 'unknown';
    if (!unknown && typeof o.complete !== 'number') fail('"complete" must be a number unless the outcome is unknown');
    const completedAt = unknown ? Number.POSITIVE_INFINITY : o.complete!;
    if (completedAt < o.invoke!) fail('"complete" is before "invoke"');
    if (!Array.isArray(o.txn)) fail('"txn" must be an array of micro-ops');
    const ops = o.txn!.map((m, j) => microOp(m, o.outcome === 'ok', (why) => fail(`micro-op ${j}: ${why}`)));
    out.push({ id: out.length, client: o.client!, ops, outcome: o.outcome!, invokedAt: o.invoke!, completedAt });
  }
  return out;
}

function value(v: unknown, fail: (why: string) => never): ListValue {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return fail(`${JSON.stringify(v)} is not a value (an integer within 2^53, or a string)`);
}

function microOp(m: unknown, ok: boolean, fail: (why: string) => never): MicroOp {
  if (!Array.isArray(m) || m.length !== 3) return fail('expected ["append", key, value] or ["r", key, list]');
  const [f, k, v] = m as [unknown, unknown, unknown];
  const key = typeof k === 'string' ? k : typeof k === 'number' && Number.isSafeInteger(k) ? String(k) : fail('a key must be a string or an integer');
  if (f === 'append') return ['append', key, value(v, fail)];
  if (f !== 'r') return fail(`unknown micro-op ${JSON.stringify(f)} (append or r)`);
  if (v === null || !ok) return ['r', key, null];
  if (!Array.isArray(v)) return fail('a read\'s value must be a list or null');
  return ['r', key, v.map((x) => value(x, fail))];
}
