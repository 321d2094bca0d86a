/**
 * History formats: Jepsen's classic log lines and quorate's own JSON lines (see
 * docs/history-format.md). Both parse into Operation[]; malformed input is a HistoryFormatError
 * naming the file and line.
 */
import type { OpKind, Operation, Value } from './history.js';

export class HistoryFormatError extends Error {
  override readonly name = 'HistoryFormatError';
  constructor(readonly file: string, readonly line: number, what: string) {
    super(`${file}:${line}: ${what}`);
  }
}

// ---- Jepsen ---------------------------------------------------------------------------------

type Edn = null | number | string | Edn[];

/**
 * An integer token: a number when a double holds it exactly, else its exact decimal as a string
 * (leading zeros dropped). Beyond 2^53 a number rounds, and 2^53 and 2^53 + 1 would read as one
 * value: a read of one after a write of the other would pass, and two keys would be one register.
 * A Jepsen value is otherwise nil or a number, so such a string equals only the same integer.
 */
function integer(tok: string): number | string {
  const n = Number(tok);
  return Number.isSafeInteger(n) ? n : BigInt(tok).toString();
}

/** An integer read by `integer` beyond 2^53, as opposed to a keyword or a symbol. */
const isBigInteger = (v: string): boolean => /^-?\d+$/.test(v);

/** A tiny reader for the EDN values Jepsen prints in op lines: nil, integers, keywords, vectors. */
function readEdn(text: string, fail: (why: string) => never): Edn {
  let i = 0;
  const skip = () => { while (i < text.length && /[\s,]/.test(text[i]!)) i++; };
  const value = (): Edn => {
    skip();
    const c = text[i];
    if (c === undefined) fail('value expected');
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: Edn[] = [];
      for (;;) {
        skip();
        if (text[i] === close) { i++; return out; }
        if (i >= text.length) fail(`unclosed ${c}`);
        out.push(value());
      }
    }
    const m = /^[^\s,\[\]()]+/.exec(text.slice(i));
    if (m === null) fail(`unexpected '${c}'`);
    i += m[0].length;
    const tok = m[0];
    if (tok === 'nil') return null;
    if (/^-?\d+$/.test(tok)) return integer(tok);
    return tok; // keywords like :timed-out, symbols
  };
  const v = value();
  skip();
  if (i < text.length) fail(`trailing text '${text.slice(i)}'`);
  return v;
}

const INTEGER = /^-?\d+$/;
/** Two nil-or-integer elements in brackets, as `:cas [3 0]` and `:write [k v]` have them. */
const PAIR = /^\[(nil|-?\d+)[\s,]+(nil|-?\d+)[\s,]*\]$/;

/**
 * An op line's value: what readEdn reads, with the common shapes (nil, an integer, a pair of
 * them) read by one regular expression each rather than by the EDN reader.
 */
function opValue(text: string, fail: (why: string) => never): Edn {
  if (text === '' || text === 'nil') return null;
  if (INTEGER.test(text)) return integer(text);
  const pair = PAIR.exec(text);
  if (pair !== null) return [pair[1] === 'nil' ? null : integer(pair[1]!), pair[2] === 'nil' ? null : integer(pair[2]!)];
  return readEdn(text, fail);
}

const JEPSEN_LINE = /^(?:.*?\s)?(\d+)\s+:(invoke|ok|fail|info)\s+:([\w-]+)\s*(.*)$/;

function scalar(v: Edn, fail: (why: string) => never): Value {
  if (v === null || typeof v === 'number') return v;
  if (typeof v === 'string' && isBigInteger(v)) return v;
  if (typeof v === 'string' && v.startsWith(':')) return null; // e.g. :timed-out; caller decides
  fail(`expected nil or an integer, got ${JSON.stringify(v)}`);
}

/**
 * Reads Jepsen's classic log lines (`INFO  jepsen.util - 3 :invoke :cas [3 0]`). Accepted ops:
 * :read, :write, :cas on one register (values nil or integers, cas as [from to]), or on
 * independent keys as tuples ([k v], [k [from to]]). Other lines (nemesis, logging) are skipped.
 * An :info completion, a read that fails with :timed-out, or an invoke with no completion is an
 * unknown outcome. Times are line numbers.
 */
export function parseJepsen(text: string, file: string): Operation[] {
  const lines = text.split('\n');
  const open = new Map<string, { lineNo: number; f: string; value: Edn }>();
  const ops: Operation[] = [];
  const push = (process: string, inv: { lineNo: number; f: string; value: Edn }, outcome: Operation['outcome'], done: Edn, lineNo: number) => {
    const fail = (why: string): never => { throw new HistoryFormatError(file, lineNo, why); };
    let key = '';
    let v: Edn = outcome === 'ok' && inv.f === 'read' ? done : inv.value;
    const keyed = (x: Edn): x is Edn[] => Array.isArray(x) && x.length === 2 && (inv.f !== 'cas' || Array.isArray(x[1]));
    if (keyed(v)) {
      key = String(v[0]);
      v = v[1]!;
    }
    const kind: OpKind = inv.f === 'read' ? 'read' : inv.f === 'write' ? 'write' : inv.f === 'cas' ? 'cas' : fail(`unsupported op :${inv.f}`);
    let real = outcome;
    if (kind === 'read' && typeof done === 'string' && done.startsWith(':')) real = 'unknown';
    if (kind === 'read' && outcome === 'fail') real = 'unknown';
    // Object literals, not spreads of a shared base: spreads were a good part of reading a file.
    const id = ops.length;
    const client = Number(process);
    const completedAt = real === 'unknown' ? Number.POSITIVE_INFINITY : lineNo;
    if (kind === 'read') {
      ops.push(real === 'ok'
        ? { id, client, kind, key, outcome: real, invokedAt: inv.lineNo, completedAt, result: scalar(v, fail) }
        : { id, client, kind, key, outcome: real, invokedAt: inv.lineNo, completedAt });
    } else if (kind === 'write') {
      ops.push({ id, client, kind, key, outcome: real, invokedAt: inv.lineNo, completedAt, value: scalar(v, fail) });
    } else {
      if (!Array.isArray(v) || v.length !== 2) throw new HistoryFormatError(file, lineNo, `cas expects [from to], got ${JSON.stringify(v)}`);
      ops.push({ id, client, kind, key, outcome: real, invokedAt: inv.lineNo, completedAt, expected: scalar(v[0]!, fail), value: scalar(v[1]!, fail) });
    }
  };
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const m = JEPSEN_LINE.exec(raw.trim());
    if (m === null) return;
    const [, process, type, f, rest] = m as unknown as [string, string, string, string, string];
    if (!['read', 'write', 'cas'].includes(f)) return; // e.g. nemesis or unknown ops
    const fail = (why: string): never => { throw new HistoryFormatError(file, lineNo, why); };
    const value = opValue(rest.trim(), fail);
    if (type === 'invoke') {
      if (open.has(process)) fail(`process ${process} invoked :${f} while its previous operation is still open`);
      open.set(process, { lineNo, f, value });
      return;
    }
    const inv = open.get(process);
    if (inv === undefined) throw new HistoryFormatError(file, lineNo, `:${type} for process ${process} with no open invocation`);
    if (inv.f !== f) fail(`process ${process} completed :${f} but invoked :${inv.f}`);
    open.delete(process);
    push(process, inv, type === 'ok' ? 'ok' : type === 'fail' ? 'fail' : 'unknown', value, lineNo);
  });
  for (const [process, inv] of open) push(process, inv, 'unknown', null, lines.length + 1);
  return ops;
}

// ---- JSON lines ---------------------------------------------------------------------------------

interface JsonOp {
  client: number;
  f: 'read' | 'write' | 'cas' | 'delete';
  key?: string;
  value?: Value;
  expected?: Value;
  outcome: 'ok' | 'fail' | 'unknown';
  result?: Value;
  invoke: number;
  complete?: number | null;
}

export function toJsonLines(ops: readonly Operation[]): string {
  return ops
    .map((op) => {
      const o: JsonOp = { client: op.client, f: op.kind, key: op.key, outcome: op.outcome, invoke: op.invokedAt };
      if (op.value !== undefined) o.value = op.value;
      if (op.expected !== undefined) o.expected = op.expected;
      if (op.result !== undefined) o.result = op.result;
      o.complete = Number.isFinite(op.completedAt) ? op.completedAt : null;
      return JSON.stringify(o);
    })
    .join('\n') + (ops.length > 0 ? '\n' : '');
}

const isValue = (v: unknown): v is Value => v === null || typeof v === 'number' || typeof v === 'string';

export function parseJsonLines(text: string, file: string): Operation[] {
  const ops: Operation[] = [];
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (why: string): never => { throw new HistoryFormatError(file, lineNo, why); };
    let o: Partial<JsonOp>;
    try {
      o = JSON.parse(line) as Partial<JsonOp>;
    } catch {
      fail('not valid JSON');
    }
    if (typeof o! !== 'object' || o! === null) fail('expected a JSON object');
    const op = o!;
    if (typeof op.client !== 'number') fail('"client" must be a number');
    if (!['read', 'write', 'cas', 'delete'].includes(op.f as string)) fail('"f" must be read, write, cas or delete');
    if (!['ok', 'fail', 'unknown'].includes(op.outcome as string)) fail('"outcome" must be ok, fail or unknown');
    if (typeof op.invoke !== 'number') fail('"invoke" must be a number');
    const unknown = op.outcome === 'unknown';
    if (!unknown && typeof op.complete !== 'number') fail('"complete" must be a number unless the outcome is unknown');
    if (op.f === 'write' && !isValue(op.value)) fail('a write needs "value"');
    if (op.f === 'cas' && (!isValue(op.value) || !isValue(op.expected))) fail('a cas needs "expected" and "value"');
    if (op.f === 'read' && op.outcome === 'ok' && !isValue(op.result)) fail('an ok read needs "result" (null: the key does not exist)');
    // A key of another type would be a register of its own (1 and "1" two keys, {} one per op).
    if (op.key !== undefined && typeof op.key !== 'string') fail('"key" must be a string');
    // JSON.parse rounds an integer beyond 2^53 onto a neighbour (2^53 + 1 reads as 2^53): two
    // values would compare equal. Such a value must be written as a string.
    for (const field of ['value', 'expected', 'result'] as const) {
      const v = op[field];
      if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) fail(`"${field}" ${v} is beyond 2^53, where a JSON number is not exact: write it as a string`);
    }
    const completedAt = unknown ? Number.POSITIVE_INFINITY : op.complete!;
    if (completedAt < op.invoke!) fail('"complete" is before "invoke"');
    ops.push({
      id: ops.length, client: op.client!, kind: op.f!, key: op.key ?? '', outcome: op.outcome!, invokedAt: op.invoke!, completedAt,
      ...(op.value !== undefined ? { value: op.value } : {}),
      ...(op.expected !== undefined ? { expected: op.expected } : {}),
      ...(op.result !== undefined ? { result: op.result } : {}),
    });
  });
  return ops;
}
