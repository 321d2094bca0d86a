/**
 * A KV snapshot decoded a slice at a time (see SnapshotRestoring in core/replica.ts): decoding a
 * state of hundreds of MiB in one turn of the event loop held back heartbeats and elections for
 * seconds on the member installing it.
 *
 * The snapshot is a map whose fields KvSnapshotEncoding writes in order: format, revision,
 * compactRevision, keys, then the small rest (sessions, auth, leases, ...). The fields before
 * `keys` are read first, so an unknown format stops before any key is decoded; the keys (the big
 * part) are decoded one entry at a time, and a long history (a key written many times since its
 * last compaction) a version at a time, straight into a new key index, change log and list of
 * leased keys; the rest is decoded whole. Then the keys are sorted and the change log ordered, each
 * in a step of its own, so that install() only swaps. A snapshot of another layout (none is
 * written, but the format allows any field order) is unpacked whole in the first step and its keys
 * converted in slices as well.
 *
 * Nothing here touches the state machine: a snapshot that turns out truncated or corrupt throws at
 * some step and the state it would have replaced is untouched.
 */
import { assert } from '../../core/assert.js';
import { headerAt, unpack, unpackAt } from '../../core/codec.js';
import { byCodeUnits, KeyIndex, type KeyRevision } from './key-index.js';
import { leaseIdOf, NO_LEASE, type LeaseId } from './lease-id.js';

/**
 * What one key counts as, at least, against a slice's budget: decoding a small key, copying its
 * values and indexing it costs about five times what encoding it does (bench/store.ts: 200k keys
 * restore in about five times the time they encode), and encoding counts a key as a KiB.
 */
const KEY_WORK_BYTES = 4096;

/**
 * What one version of a key's history counts as, at least: a key's history is decoded a version at
 * a time, so that a key written many times since its last compaction (one entry of hundreds of
 * thousands of versions) spreads over slices rather than filling one far over its budget.
 */
const VERSION_WORK_BYTES = 1024;

/** What a decoded snapshot holds besides its keys (the fields of the snapshot map, keys left out). */
export type SnapshotRest = Readonly<Record<string, unknown>>;

/** The key part of a decoded snapshot, ready to be swapped into the store. */
export interface DecodedKeys {
  readonly revision: number;
  readonly compactRevision: number;
  readonly index: KeyIndex;
  readonly changes: { readonly main: number[]; readonly key: string[] };
  /** Every key whose latest version is live and attached to a lease. */
  readonly leasedKeys: readonly (readonly [string, LeaseId])[];
}

/** Elements a merge of sorted runs moves per byte of a slice's budget (a move costs far less than decoding a byte). */
const MERGED_PER_BUDGET_BYTE = 1 / 64;

type Phase = 'start' | 'keys' | 'rest' | 'order' | 'done';
type Change = { readonly main: number; readonly sub: number; readonly key: string };

export class KvSnapshotDecoding {
  private phase: Phase = 'start';
  /** Fast path: where the next unread byte is; the keys left; the map entries left after keys. */
  private at = 0;
  private keysLeft = 0;
  private fieldsLeft = 0;
  /** Fallback (another layout): the whole snapshot unpacked, and where its keys are. */
  private unpacked: Record<string, unknown> | null = null;
  private unpackedKeys: readonly unknown[] = [];
  private keyNumber = 0;
  /** Fast path: the key entry being decoded a version at a time, and how many of its versions are left. */
  private entry: { readonly key: string; readonly revs: KeyRevision[]; left: number } | null = null;
  private readonly fields: Record<string, unknown> = {};
  private revision = 0;
  private compactRevision = 0;
  private readonly index = new KeyIndex();
  /** The keys and changes of the current step, sorted at its end into a run of each merge. */
  private stepKeys: string[] = [];
  private stepChanges: Change[] = [];
  private readonly keyOrder = new RunMerge<string>((a, b) => a < b);
  private readonly changeOrder = new RunMerge<Change>((a, b) => a.main < b.main || (a.main === b.main && a.sub < b.sub));
  private sortedKeys: string[] | null = null;
  private changes: { main: number[]; key: string[] } = { main: [], key: [] };
  private readonly leased: [string, LeaseId][] = [];

  constructor(private readonly data: Uint8Array, private readonly readableFormats: readonly number[]) {}

  get done(): boolean {
    return this.phase === 'done';
  }

  /**
   * Decode about `budgetBytes` more (a phase's end, or a sort, ends a step); true once all of it is
   * decoded. Throws on a snapshot it cannot read (an unknown format, truncated or corrupt bytes).
   */
  step(budgetBytes: number): boolean {
    switch (this.phase) {
      case 'start': this.start(); break;
      case 'keys': this.decodeKeys(budgetBytes); break;
      case 'rest': this.decodeRest(); break;
      case 'order': this.order(budgetBytes); break;
      case 'done': break;
    }
    return this.phase === 'done';
  }

  /** The snapshot's fields other than its keys (after the last step). */
  rest(): SnapshotRest {
    assert(this.phase === 'done', 'a snapshot is decoded before it is read');
    return this.fields;
  }

  decodedKeys(): DecodedKeys {
    assert(this.phase === 'done', 'a snapshot is decoded before it is read');
    return { revision: this.revision, compactRevision: this.compactRevision, index: this.index, changes: this.changes, leasedKeys: this.leased };
  }

  /** The fields before `keys`, and the format check; or, for another layout, all of it unpacked. */
  private start(): void {
    const map = headerAt(this.data, 0, 'map');
    let at = map?.end ?? 0;
    let left = map?.length ?? 0;
    let keys: { length: number; end: number } | null = null;
    while (map !== null && left > 0 && keys === null) {
      const name = this.read(at);
      at = name.end;
      left--;
      if (typeof name.value !== 'string') break;
      if (name.value === 'keys') {
        keys = headerAt(this.data, at, 'array');
        break;
      }
      const value = this.read(at);
      at = value.end;
      this.fields[name.value] = value.value;
    }
    if (keys === null || !('format' in this.fields) || !('revision' in this.fields) || !('compactRevision' in this.fields)) {
      this.startWhole();
      return;
    }
    this.checkFields();
    this.at = keys.end;
    this.keysLeft = keys.length;
    this.fieldsLeft = left;
    this.phase = 'keys';
  }

  /** Another layout: unpack it whole now; its keys are still converted in slices. */
  private startWhole(): void {
    for (const name of Object.keys(this.fields)) delete this.fields[name];
    const snap = unpack(this.data);
    if (snap === null || typeof snap !== 'object' || Array.isArray(snap) || snap instanceof Uint8Array) throw corrupt('it is no map');
    const { keys, ...rest } = snap as Record<string, unknown>;
    Object.assign(this.fields, rest);
    this.checkFields();
    if (!Array.isArray(keys)) throw corrupt('its keys are no list');
    this.unpacked = snap as Record<string, unknown>;
    this.unpackedKeys = keys;
    this.keysLeft = keys.length;
    this.phase = 'keys';
  }

  private checkFields(): void {
    const { format, revision, compactRevision } = this.fields as { format: number; revision: unknown; compactRevision: unknown };
    assert(this.readableFormats.includes(format), () => `unknown KV snapshot format ${format} (this build reads ${this.readableFormats.join(' and ')})`);
    if (!isCount(revision) || !isCount(compactRevision)) throw corrupt('its revision or compacted revision is no count');
    this.revision = revision;
    this.compactRevision = compactRevision;
  }

  private decodeKeys(budgetBytes: number): void {
    let spent = 0;
    while (this.keysLeft > 0 && spent < budgetBytes) {
      if (this.unpacked !== null) {
        this.addKey(this.unpackedKeys[this.keyNumber]);
        spent += KEY_WORK_BYTES;
      } else if (this.entry !== null) {
        spent += this.decodeVersions(budgetBytes - spent);
        continue;
      } else {
        spent += this.beginEntry();
        continue;
      }
      this.keyNumber++;
      this.keysLeft--;
    }
    // This step's keys and changes, sorted: a run each for the merges of the last phase.
    this.keyOrder.addRun(this.stepKeys.sort(byCodeUnits));
    this.changeOrder.addRun(this.stepChanges.sort((a, b) => a.main - b.main || a.sub - b.sub));
    this.stepKeys = [];
    this.stepChanges = [];
    if (this.keysLeft === 0) this.phase = this.unpacked === null ? 'rest' : 'order';
  }

  /**
   * The keys in order for the index, the changes in order for the change log: merges of the runs
   * the key steps sorted, in slices too (one sort of 200k keys took a third of a second).
   */
  private order(budgetBytes: number): void {
    const budget = Math.max(1, budgetBytes * MERGED_PER_BUDGET_BYTE);
    if (this.sortedKeys === null) {
      this.sortedKeys = this.keyOrder.step(budget);
      if (this.sortedKeys === null) return;
      this.index.restoreOrder(this.sortedKeys);
      return;
    }
    const changes = this.changeOrder.step(budget);
    if (changes === null) return;
    this.changes = { main: changes.map((c) => c.main), key: changes.map((c) => c.key) };
    this.phase = 'done';
  }

  /**
   * Fast path: the start of the next key entry, [key, [versions...]], its key read; its versions
   * follow a few at a time (decodeVersions). An entry not written so (no array headers there) is
   * read whole. Returns the work it counts for.
   */
  private beginEntry(): number {
    const n = this.keyNumber;
    const head = headerAt(this.data, this.at, 'array');
    const key = head !== null && head.length === 2 ? this.read(head.end) : null;
    const versions = key !== null && typeof key.value === 'string' ? headerAt(this.data, key.end, 'array') : null;
    if (versions === null) {
      const whole = this.read(this.at);
      const bytes = whole.end - this.at;
      this.at = whole.end;
      this.addKey(whole.value);
      this.keyNumber++;
      this.keysLeft--;
      return Math.max(KEY_WORK_BYTES, bytes);
    }
    if (versions.length === 0) throw corrupt(`key entry ${n} is no [key, versions]`);
    this.at = versions.end;
    this.entry = { key: key!.value as string, revs: [], left: versions.length };
    return KEY_WORK_BYTES;
  }

  /** Fast path: more versions of the key entry begun, up to about `budgetBytes`; the key once all are read. */
  private decodeVersions(budgetBytes: number): number {
    const e = this.entry!;
    let spent = 0;
    while (e.left > 0 && spent < budgetBytes) {
      const next = this.read(this.at);
      spent += Math.max(VERSION_WORK_BYTES, next.end - this.at);
      this.at = next.end;
      this.addVersion(e.key, e.revs, next.value);
      e.left--;
    }
    if (e.left === 0) {
      this.entry = null;
      this.finishKey(e.key, e.revs);
      this.keyNumber++;
      this.keysLeft--;
    }
    return spent;
  }

  /** One key entry, [key, [[main, sub, createRevision, version, value, lease], ...]], into the new index. */
  private addKey(entry: unknown): void {
    const n = this.keyNumber;
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || !Array.isArray(entry[1]) || entry[1].length === 0) {
      throw corrupt(`key entry ${n} is no [key, versions]`);
    }
    const key = entry[0];
    const revs: KeyRevision[] = [];
    for (const v of entry[1] as unknown[]) this.addVersion(key, revs, v);
    this.finishKey(key, revs);
  }

  /** One version, [main, sub, createRevision, version, value, lease], after `revs` of `key`'s history. */
  private addVersion(key: string, revs: KeyRevision[], v: unknown): void {
    const n = this.keyNumber;
    if (!Array.isArray(v) || v.length !== 6) throw corrupt(`a version of key entry ${n} is no [main, sub, createRevision, version, value, lease]`);
    const [main, sub, createRevision, version, value, lease] = v as unknown[];
    if (!isCount(main) || !isCount(sub) || !isCount(createRevision) || !isCount(version)) throw corrupt(`a version of key entry ${n} has a revision that is no count`);
    if (value !== null && !(value instanceof Uint8Array)) throw corrupt(`a version of key entry ${n} has a value that is no bytes`);
    const last = revs[revs.length - 1];
    if (last !== undefined && !(last.main < main || (last.main === main && last.sub < sub))) throw corrupt(`the versions of key entry ${n} are out of order`);
    // Values copied out: a view would keep the whole snapshot's bytes alive as long as one value lives.
    const leaseId = typeof lease === 'string' || typeof lease === 'number' ? leaseIdOf(lease) : null;
    if (leaseId === null) throw corrupt(`a version of key entry ${n} names a lease that is no int64`);
    revs.push({ main, sub, createRevision, version, value: value === null ? null : new Uint8Array(value), lease: leaseId });
    if (main >= this.compactRevision) this.stepChanges.push({ main, sub, key });
  }

  /** A key whose whole history is read: into the new index. */
  private finishKey(key: string, revs: KeyRevision[]): void {
    this.index.restoreKey(key, revs);
    this.stepKeys.push(key);
    const latest = revs[revs.length - 1]!;
    if (latest.value !== null && latest.lease !== NO_LEASE) this.leased.push([key, latest.lease]);
  }

  /** The fields after the keys, whole (they are small), and nothing after them. */
  private decodeRest(): void {
    let at = this.at;
    for (; this.fieldsLeft > 0; this.fieldsLeft--) {
      const name = this.read(at);
      if (typeof name.value !== 'string') throw corrupt(`a field name at byte ${at} is no text`);
      const value = this.read(name.end);
      at = value.end;
      this.fields[name.value] = value.value;
    }
    if (at !== this.data.byteLength) throw corrupt(`${this.data.byteLength - at} bytes follow its end`);
    this.at = at;
    this.phase = 'order';
  }

  private read(at: number): { readonly value: unknown; readonly end: number } {
    try {
      return unpackAt(this.data, at);
    } catch (err) {
      throw corrupt((err as Error).message);
    }
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function corrupt(why: string): Error {
  return new Error(`unreadable KV snapshot: ${why}`);
}

/** A lease id read from a snapshot: text, or a number from a snapshot taken before ids were text. */
export function restoredLeaseId(v: LeaseId | number): LeaseId {
  const id = leaseIdOf(v);
  assert(id !== null, () => `a snapshot names lease ${String(v)}, which is no int64`);
  return id;
}

/**
 * Sorted runs merged into one, a bounded number of elements per step: pairs from the front of the
 * queue, their merge to its back (each element is moved about log2(runs) times).
 */
class RunMerge<T> {
  private readonly queue: T[][] = [];
  private merging: { readonly a: T[]; readonly b: T[]; i: number; j: number; readonly out: T[] } | null = null;

  constructor(private readonly before: (x: T, y: T) => boolean) {}

  addRun(run: T[]): void {
    if (run.length > 0) this.queue.push(run);
  }

  /** Merge about `budget` elements more; the whole in order once done, else null. */
  step(budget: number): T[] | null {
    let left = budget;
    for (;;) {
      let m = this.merging;
      if (m === null) {
        if (this.queue.length <= 1) return this.queue.pop() ?? [];
        if (left <= 0) return null;
        const a = this.queue.shift()!;
        const b = this.queue.shift()!;
        m = this.merging = { a, b, i: 0, j: 0, out: new Array<T>() };
      }
      const { a, b, out, } = m;
      const before = this.before;
      let { i, j } = m;
      const stop = Math.min(a.length + b.length, i + j + Math.max(1, Math.ceil(left)));
      while (i + j < stop) {
        if (j >= b.length || (i < a.length && !before(b[j]!, a[i]!))) out.push(a[i++]!);
        else out.push(b[j++]!);
      }
      left -= i + j - m.i - m.j;
      m.i = i;
      m.j = j;
      if (i + j < a.length + b.length) return null;
      this.queue.push(out);
      this.merging = null;
    }
  }
}
