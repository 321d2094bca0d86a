/**
 * A snapshot of the etcd state machine, encoded a slice at a time while later entries are applied
 * (see SnapshotEncoding in core/replica.ts): a state of hundreds of MiB is not encoded in one
 * turn of the event loop that would hold back heartbeats and elections for seconds.
 *
 * What makes it a point-in-time snapshot without copying the store: the MVCC history. At the
 * start the encoding notes the revision R and the number of keys; versions written later have a
 * revision above R and are left out, and keys created later come after those counted (a Map
 * keeps insertion order). Only a compaction or a restore rewrites history: a compaction replaces
 * a key's history array rather than editing it, and before one the encoding holds on to the
 * histories it has not reached (detach); a restore abandons the encoding (the driver abandons it
 * first, as it installs a snapshot). Everything besides the keys
 * (sessions, auth, leases, cluster) is small and encoded at the start.
 *
 * The bytes are exactly pack() of the snapshot object (codec's arrayHeader/mapHeader), so one
 * encoder serves snapshot(), clientSnapshot() and the sliced path.
 */
import { concatBytes } from '../../core/bytes.js';
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
  /** What the keys take encoded now (KeyIndex.snapshotBytes): the buffer's size. */
  readonly keysBytes: number;
  /** The fields after `keys`, in order, as they are now. */
  readonly rest: Readonly<Record<string, unknown>>;
}

export class KvSnapshotEncoding implements SnapshotEncoding {
  private out: Uint8Array;
  private used = 0;
  private keysDone = 0;
  private readonly tail: Uint8Array;
  /** Where the encoding is in the store's histories (live; after detach(), the ones left, held). */
  private keys: Iterator<[string, readonly KeyRevision[]]>;
  private detached = false;
  private state: 'encoding' | 'done' | 'abandoned' = 'encoding';

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
    this.tail = concatBytes(tail);
    // Not cleared: only [0, used) is written before it is read or handed out.
    this.keys = fields.histories();
    // One buffer sized at the start, so the last slice hands it out rather than copying hundreds of
    // MiB (a concatenation of chunks held the event loop for a second at 256 MiB).
    this.out = Buffer.allocUnsafeSlow(64 + this.tail.byteLength + fields.keysBytes);
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
    assert(this.state === 'encoding', () => `a snapshot encoding is stepped once ${this.state}`);
    this.encodeKeys(budgetBytes);
    if (this.keysDone < this.fields.keyCount) return null;
    return this.complete();
  }

  /**
   * A compaction is about to forget history: hold on to the histories not encoded yet, as they
   * are now (a compaction replaces a key's history with a new array, never edits it: see
   * KeyIndex.compact). References only, so this costs a walk over the keys left, not an encoding.
   */
  detach(): void {
    if (this.state !== 'encoding' || this.detached) return;
    this.detached = true;
    const left: [string, readonly KeyRevision[]][] = [];
    for (let n = this.fields.keyCount - this.keysDone; n > 0; n--) {
      const next = this.keys.next();
      assert(next.done !== true, 'every key counted at the start is still there');
      left.push(next.value);
    }
    this.keys = left[Symbol.iterator]();
  }

  abandon(): void {
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

