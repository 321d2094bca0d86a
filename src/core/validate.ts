/**
 * Checking what a peer sent before anything acts on it. A frame is decoded MessagePack: any
 * shape at all. A core trusts its messages' types (a term compared with `>` is a number; an
 * entries array has entries), so a heartbeat with `term: '7'` once set Raft's term to the string
 * "7" and persisted it. Each protocol exports a validator built from these helpers, beside its
 * own types, and registers it in its ProtocolDefinition (`messageValidator`); the driver runs it
 * on every frame, so a message that reaches a core has the shape its type promises.
 *
 * A validator is pure and total: it never throws, never mutates, and answers the message itself
 * (typed) or an InvalidMessage saying which field is wrong. It checks types and ranges and the
 * bounds below, not the protocol's rules (a stale term is well-formed; the core judges it).
 */

/** Why a decoded value is not a message of the protocol (only made when one is refused). */
export class InvalidMessage {
  constructor(readonly reason: string) {}
}

/** The message, typed, or why it is refused. */
export type MessageValidator<M> = (value: unknown) => M | InvalidMessage;

/** The bounds every protocol's validator shares; each protocol adds its own (entries, batches). */
export interface CommonMessageBounds {
  /** Characters in a node id or a client principal ("n1", "n1#3"); etcd member names are short. */
  readonly maxNodeIdChars: number;
  /** Members named in one message (a membership, a MAC vector, a quorum of signatures). */
  readonly maxMembers: number;
  /** Characters in a request id ("n1/<incarnation>/<counter>"). */
  readonly maxRequestIdChars: number;
  /** Characters in a digest, a MAC or a signature (hex SHA-256 is 64, hex Ed25519 128). */
  readonly maxAuthenticatorChars: number;
}

export const DEFAULT_COMMON_MESSAGE_BOUNDS: CommonMessageBounds = {
  maxNodeIdChars: 256,
  maxMembers: 1024,
  maxRequestIdChars: 512,
  maxAuthenticatorChars: 1024,
};

/** A non-array object whose fields may be read (what MessagePack maps decode to). */
export type Fields = Readonly<Record<string, unknown>>;

export function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Terms, indexes, ballots, views, sequence numbers, counters: safe non-negative integers. */
export function isNat(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function isBool(v: unknown): v is boolean {
  return typeof v === 'boolean';
}

export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/**
 * `v`, the value of the field `name`, as natFields and boolFields judge it: null, or the reason.
 * For checkers on the hot path, which read each field by its literal name: such a read sees the
 * one message type its checker serves, and V8 makes it a direct load. natFields reads fields by a
 * name it is passed, on behalf of every type, which costs a hash lookup per field.
 */
export function natField(v: unknown, name: string): string | null {
  return isNat(v) ? null : `${name} is not a non-negative integer`;
}

/** See natField. */
export function boolField(v: unknown, name: string): string | null {
  return isBool(v) ? null : `${name} is not a boolean`;
}

/** The first of the named fields that is not a non-negative integer, as a reason; null when all are. */
export function natFields(m: Fields, ...names: string[]): string | null {
  for (const n of names) if (!isNat(m[n])) return `${n} is not a non-negative integer`;
  return null;
}

/** The first of the named fields that is not a boolean, as a reason; null when all are. */
export function boolFields(m: Fields, ...names: string[]): string | null {
  for (const n of names) if (!isBool(m[n])) return `${n} is not a boolean`;
  return null;
}

/** A non-empty string of at most `maxChars` characters. */
export function isName(v: unknown, maxChars: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= maxChars;
}

/** A string (possibly empty) of at most `maxChars` characters. */
export function isText(v: unknown, maxChars: number): v is string {
  return typeof v === 'string' && v.length <= maxChars;
}

/** An array of at most `max` items. */
export function isBoundedArray(v: unknown, max: number): v is readonly unknown[] {
  return Array.isArray(v) && v.length <= max;
}

/**
 * The first item of `items` that `check` refuses, as a reason naming its position; null when
 * every item passes. `check` answers a reason or null.
 */
export function firstBadItem(items: readonly unknown[], what: string, check: (item: unknown, i: number) => string | null): string | null {
  for (let i = 0; i < items.length; i++) {
    const why = check(items[i], i);
    if (why !== null) return `${what}[${i}]: ${why}`;
  }
  return null;
}

/** `from` and `to` of an envelope: node ids (or client principals) of bounded length. */
export function envelopeProblem(m: Fields, b: CommonMessageBounds): string | null {
  if (!isName(m['from'], b.maxNodeIdChars)) return 'from is not a node id';
  if (!isName(m['to'], b.maxNodeIdChars)) return 'to is not a node id';
  return null;
}

/** A list of node ids (a membership half): bounded, each a bounded non-empty string. */
export function nodeIdListProblem(v: unknown, what: string, b: CommonMessageBounds): string | null {
  if (!isBoundedArray(v, b.maxMembers)) return `${what} is not an array of at most ${b.maxMembers} node ids`;
  return firstBadItem(v, what, (id) => (isName(id, b.maxNodeIdChars) ? null : 'not a node id'));
}

/** A Membership: voters, outgoing voters and learners, and the index it holds at if given (Membership.since). */
export function membershipProblem(v: unknown, b: CommonMessageBounds): string | null {
  if (!isObject(v)) return 'membership is not an object';
  if (v['since'] !== undefined && !isNat(v['since'])) return 'membership since is not a non-negative integer';
  return nodeIdListProblem(v['voters'], 'voters', b)
    ?? nodeIdListProblem(v['outgoingVoters'], 'outgoingVoters', b)
    ?? nodeIdListProblem(v['learners'], 'learners', b);
}

/** A Snapshot: meta (index, term, membership) and the state machine's bytes. */
export function snapshotProblem(v: unknown, b: CommonMessageBounds): string | null {
  if (!isObject(v)) return 'snapshot is not an object';
  const meta = v['meta'];
  if (!isObject(meta)) return 'snapshot meta is not an object';
  if (!isNat(meta['index'])) return 'snapshot index is not a non-negative integer';
  if (!isNat(meta['term'])) return 'snapshot term is not a non-negative integer';
  const m = membershipProblem(meta['membership'], b);
  if (m !== null) return `snapshot ${m}`;
  if (!isBytes(v['data'])) return 'snapshot data is not bytes';
  return null;
}

const ENTRY_KINDS: ReadonlySet<unknown> = new Set(['command', 'noop', 'config']);

/** A LogEntry: index from 1, a term, a known kind, bytes, and (Paxos) the ballot it was accepted in. */
export function logEntryProblem(v: unknown): string | null {
  if (!isObject(v)) return 'not an object';
  if (!isNat(v['index']) || v['index'] < 1) return 'index is not a positive integer';
  if (!isNat(v['term'])) return 'term is not a non-negative integer';
  if (!ENTRY_KINDS.has(v['kind'])) return `unknown entry kind ${String(v['kind'])}`;
  if (!isBytes(v['data'])) return 'data is not bytes';
  const ab = v['acceptedBallot'];
  if (ab !== undefined && !isNat(ab)) return 'acceptedBallot is not a non-negative integer';
  return null;
}

/**
 * A bound taken from the receiver's own options (`configured`, a limit the protocol sends
 * within) but never below `floor`: peers configured differently from this member, within the
 * floor, are never refused.
 */
export function boundFrom(configured: unknown, floor: number): number {
  return typeof configured === 'number' && Number.isSafeInteger(configured) && configured > floor ? configured : floor;
}

/** Wrap a checker that answers a reason (or null) as a MessageValidator. */
/**
 * A validator of a protocol's messages by their `type`: the envelope (with `bounds`), then
 * `common` (fields every message of the protocol has, such as a term), then the type's own
 * `checkers` entry; a type without one is unknown. Problems name the type.
 */
export function validatorByType<M extends { readonly type: string }, B extends CommonMessageBounds>(
  protocol: string,
  checkers: Readonly<Record<M['type'], (m: Fields, b: B) => string | null>>,
  bounds: B,
  common: (m: Fields) => string | null = () => null,
): MessageValidator<M> {
  // Looked up in a Map (a known type is an own field of `checkers`): a lookup of a string key
  // that differs from message to message is a slow path on a plain object.
  const byType = new Map<unknown, (m: Fields, b: B) => string | null>(Object.entries(checkers));
  return validatorOf<M>((m) => {
    const type = m['type'];
    const check = byType.get(type);
    if (check === undefined) return `unknown ${protocol} message type ${String(type)}`;
    const why = envelopeProblem(m, bounds) ?? common(m) ?? check(m, bounds);
    return why === null ? null : `${type}: ${why}`;
  });
}

export function validatorOf<M>(problem: (m: Fields) => string | null): MessageValidator<M> {
  return (value: unknown): M | InvalidMessage => {
    if (!isObject(value)) return new InvalidMessage('not an object');
    let why: string | null;
    try {
      why = problem(value);
    } catch (err) {
      // Unreachable for plain decoded values (the checks only read fields); total regardless.
      why = `unreadable: ${(err as Error).message}`;
    }
    return why === null ? value as M : new InvalidMessage(why);
  };
}
