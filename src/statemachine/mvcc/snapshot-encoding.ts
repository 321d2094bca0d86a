/**
 * A snapshot of the etcd state machine, encoded a slice at a time while later entries are applied
 * (see SnapshotEncoding in core/replica.ts): a state of hundreds of MiB is not encoded in one
 * turn of the event loop that would hold back heartbeats and elections for seconds.
 *
 * What makes it a point-in-time snapshot without copying the store: the MVCC history. At the
 * start the encoding notes the revision R and the number of keys; versions written later have a
 * revision above R and are left out, and keys created later come after those counted (a Map
 * keeps insertion order). Only a compaction or a restore rewrites history: before a compaction
 * the rest is encoded at once (see MvccStore.onBeforeCompact); a restore abandons the encoding
 * (the driver abandons it first, as it installs a snapshot). Everything besides the keys
 * (sessions, auth, leases, cluster) is small and encoded at the start.
 *
 * The bytes are exactly pack() of the snapshot object (codec's arrayHeader/mapHeader), so one
 * encoder serves snapshot(), clientSnapshot() and the sliced path.
 */
import { assert } from '../../core/assert.js';
import { arrayHeader, mapHeader, packTransient } from '../../core/codec.js';
import type { SnapshotEncoding } from '../../core/replica.js';
import type { KeyRevision } from './key-index.js';

/**
 * What one key counts as, at least, against a slice's budget: encoding a small key costs about
 * what copying a KiB does, so a slice of many small keys is not many times longer than one of
 * large values.
 */
const KEY_WORK_BYTES = 1024;
/** Handed out as is when the buffer sized at the start (see encodedKeysBytes) is at most this share too large; else copied to fit. */
const SLACK_SHARE = 1 / 8;

export interface SnapshotFields {
  readonly format: number;
  readonly revision: number;
  readonly compactRevision: number;
  /** Every key with a history, in the store's order (live); those past `keyCount` are later than the snapshot. */
  readonly histories: () => IterableIterator<[string, readonly KeyRevision[]]>;
  readonly keyCount: number;
  /** The fields after `keys`, in order, as they are now. */
  readonly rest: Readonly<Record<string, unknown>>;
}

export class KvSnapshotEncoding implements SnapshotEncoding {
  private out: Uint8Array;
  private used = 0;
  private keysDone = 0;
  private readonly tail: Uint8Array;
  /** Where the encoding is in the store's histories. */
  private readonly keys: Iterator<[string, readonly KeyRevision[]]>;
  private state: 'encoding' | 'done' | 'abandoned' = 'encoding';
  /** Bytes finishNow encoded, for the next step() to hand out. */
  private finished: Uint8Array | null = null;

  /**
   * `mutant`: 'snapshot-sees-later-writes' keeps versions written after the snapshot began (the
   * bug this encoder must not have: a member restoring it applies those writes a second time).
   */
  constructor(private readonly fields: SnapshotFields, private readonly onEnd: () => void, private readonly mutant?: string) {
    // The rest as it is now, copied: the encoding continues while they change.
    const tail: Uint8Array[] = [];
    for (const [k, v] of Object.entries(fields.rest)) {
      tail.push(packTransient(k).slice(), packTransient(v).slice());
    }
    this.tail = concat(tail, tail.reduce((n, t) => n + t.byteLength, 0));
    // Not cleared: only [0, used) is written before it is read or handed out.
    this.keys = fields.histories();
    // One buffer sized at the start, so the last slice hands it out rather than copying hundreds of
    // MiB (a concatenation of chunks held the event loop for a second at 256 MiB).
    this.out = Buffer.allocUnsafeSlow(64 + this.tail.byteLength + encodedKeysBytes(fields));
    const head = 4 + Object.keys(fields.rest).length;
    this.append(mapHeader(head));
    for (const [k, v] of [['format', fields.format], ['revision', fields.revision], ['compactRevision', fields.compactRevision]] as const) {
      this.append(packTransient(k));
      this.append(packTransient(v));
    }
    this.append(packTransient('keys'));
    this.append(arrayHeader(fields.keyCount));
  }

  step(budgetBytes: number): Uint8Array | null {
    if (this.finished !== null) {
      const bytes = this.finished;
      this.finished = null;
      return bytes;
    }
    assert(this.state === 'encoding', () => `a snapshot encoding is stepped once ${this.state}`);
    this.encodeKeys(budgetBytes);
    if (this.keysDone < this.fields.keyCount) return null;
    return this.complete();
  }

  /** Encode all that is left now, for the next step() to hand out (a compaction is about to rewrite history). */
  finishNow(): void {
    if (this.state !== 'encoding') return;
    this.encodeKeys(Number.POSITIVE_INFINITY);
    this.finished = this.complete();
  }

  abandon(): void {
    this.finished = null;
    if (this.state === 'encoding') this.end('abandoned');
  }

  /** Encode keys until `budgetBytes` are spent, each key counting at least KEY_WORK_BYTES. */
  private encodeKeys(budgetBytes: number): void {
    let spent = 0;
    const { revision, keyCount } = this.fields;
    const keys = this.keys;
    while (this.keysDone < keyCount && spent < budgetBytes) {
      const before = this.used;
      const next = keys.next();
      assert(next.done !== true, 'every key counted at the start is still there');
      const [key, revs] = next.value;
      const kept = this.mutant === 'snapshot-sees-later-writes' ? revs : revs.filter((r) => r.main <= revision);
      assert(kept.length > 0, () => `key ${JSON.stringify(key)} counted at revision ${revision} has a version there`);
      this.append(packTransient([key, kept.map((r) => [r.main, r.sub, r.createRevision, r.version, r.value, r.lease])]));
      this.keysDone++;
      spent += Math.max(KEY_WORK_BYTES, this.used - before);
    }
  }

  private complete(): Uint8Array {
    this.append(this.tail);
    this.end('done');
    const { out, used } = this;
    this.out = new Uint8Array(0);
    // A plain Uint8Array (Buffer's slice() would be a view, not a copy).
    const bytes = new Uint8Array(out.buffer, out.byteOffset, used);
    return out.byteLength - used <= used * SLACK_SHARE ? bytes : bytes.slice();
  }

  private end(state: 'done' | 'abandoned'): void {
    this.state = state;
    this.onEnd();
  }

  private append(bytes: Uint8Array): void {
    if (bytes.byteLength > this.out.byteLength - this.used) {
      // The estimate fell short (it should not): grow by half, once or twice.
      const grown = Buffer.allocUnsafeSlow(Math.max(this.used + bytes.byteLength, Math.ceil(this.out.byteLength * 1.5)));
      grown.set(this.out.subarray(0, this.used));
      this.out = grown;
    }
    this.out.set(bytes, this.used);
    this.used += bytes.byteLength;
  }
}

/** What the keys counted at the start take encoded, as pack writes them (MessagePack sizes). */
function encodedKeysBytes(fields: SnapshotFields): number {
  let bytes = 0;
  let keys = 0;
  // A second iterator over the same histories: the first keyCount keys are those of the snapshot.
  for (const [key, revs] of fields.histories()) {
    if (keys++ === fields.keyCount) break;
    let kept = 0;
    for (const r of revs) {
      if (r.main > fields.revision) continue;
      kept++;
      bytes += 1 + uintBytes(r.main) + uintBytes(r.sub) + uintBytes(r.createRevision) + uintBytes(r.version) +
        (r.value === null ? 1 : binaryHeaderBytes(r.value.byteLength) + r.value.byteLength) + textBytes(r.lease);
    }
    bytes += 1 + textBytes(key) + arrayHeaderBytes(kept);
  }
  return bytes;
}

function uintBytes(n: number): number {
  return n < 0x80 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

function arrayHeaderBytes(n: number): number {
  return n < 16 ? 1 : n <= 0xffff ? 3 : 5;
}

function binaryHeaderBytes(n: number): number {
  return n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

/** A string's encoding: its UTF-8 bytes (a latin1 char above 0x7f takes two) and its header. */
function textBytes(text: string): number {
  let utf8 = text.length;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) utf8++;
  return (utf8 < 32 ? 1 : utf8 <= 0xff ? 2 : utf8 <= 0xffff ? 3 : 5) + utf8;
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
