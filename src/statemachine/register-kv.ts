/**
 * The simulator's state machine: a map of registers (get / put / cas / delete on string keys)
 * with client sessions, so a command retried with the same (client, seq) takes effect once and
 * answers with the result it had the first time (dissertation §6.3).
 */
import { pack, unpack } from '../core/codec.js';
import { assert } from '../core/assert.js';
import type { Index, StateMachine } from '../core/index.js';

export type RegisterOp =
  | { readonly f: 'get'; readonly key: string }
  | { readonly f: 'put'; readonly key: string; readonly value: number }
  | { readonly f: 'cas'; readonly key: string; readonly expected: number | null; readonly value: number }
  | { readonly f: 'delete'; readonly key: string };

export interface SessionCommand {
  readonly client: number;
  readonly seq: number;
  readonly op: RegisterOp;
  /**
   * Bytes the simulator adds to some writes, to push them through the size limits. A write's pad
   * is kept with the value it wrote (as a store keeps a value's bytes), so the state, and every
   * snapshot of it, grows as large as what clients wrote.
   */
  readonly pad?: Uint8Array;
}

export type RegisterResult =
  | { readonly ok: true; readonly value: number | null }
  | { readonly ok: false; readonly value: number | null }
  /** The command's bytes are no SessionCommand (a faulty or lying member ordered them): nothing changed. */
  | { readonly ok: false; readonly value: null; readonly error: 'malformed-command' };

const MALFORMED: RegisterResult = { ok: false, value: null, error: 'malformed-command' };

/** Sessions kept at most; the least recently active is evicted first (deterministically). */
export const MAX_SESSIONS = 10_000;

interface Session {
  seq: number;
  result: RegisterResult;
  lastIndex: number;
}

export function encodeCommand(cmd: SessionCommand): Uint8Array {
  return pack(cmd);
}

/**
 * The commands decoded last, by their bytes (null: the bytes are no command), in a ring of
 * RECENT_COMMANDS slots compared by identity. Every member applies the same command (in the
 * simulator, the very same byte array) and a read decodes it again, soon after the leader first
 * decoded it: in simulator runs nearly every repeat is of one of the last four commands decoded.
 * The bytes of a log entry never change once written (LogEntry.data is read-only), and apply and
 * query only read the decoded command, so one decoding serves them all; one that fell out of the
 * ring is decoded again, to an equal command. (A WeakMap kept every command as long as its bytes:
 * its insertion, one per command, cost more than the rare decodings past the last few it saved.)
 */
const RECENT_COMMANDS = 8;
const recentBytes: (Uint8Array | null)[] = new Array<Uint8Array | null>(RECENT_COMMANDS).fill(null);
const recentCommands: (SessionCommand | null)[] = new Array<SessionCommand | null>(RECENT_COMMANDS).fill(null);
/** The slot the next decoded command takes (the oldest). */
let nextRecent = 0;

/** The bytes as a command, or null when they are not one (any bytes: never throws). */
export function decodeCommand(bytes: Uint8Array): SessionCommand | null {
  for (let i = 0; i < RECENT_COMMANDS; i++) if (recentBytes[i] === bytes) return recentCommands[i] ?? null;
  const cmd = decodeUncached(bytes);
  recentBytes[nextRecent] = bytes;
  recentCommands[nextRecent] = cmd;
  nextRecent = (nextRecent + 1) % RECENT_COMMANDS;
  return cmd;
}

function decodeUncached(bytes: Uint8Array): SessionCommand | null {
  // A command is a map. Bytes that start with anything else decode to no command either way,
  // and most such bytes (the garbage the simulator has ordered) make the decoder throw, which
  // builds an Error with a stack trace each time: answered here without decoding.
  if (!startsWithMap(bytes)) return null;
  let v: unknown;
  try {
    v = unpack(bytes);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const cmd = v as Partial<Record<keyof SessionCommand, unknown>>;
  if (!Number.isFinite(cmd.client) || !Number.isFinite(cmd.seq) || !isRegisterOp(cmd.op)) return null;
  if (cmd.pad !== undefined && cmd.pad !== null && !(cmd.pad instanceof Uint8Array)) return null;
  return v as SessionCommand;
}

/** Whether the first byte is a MessagePack map header (fixmap, map 16, map 32). */
function startsWithMap(bytes: Uint8Array): boolean {
  const b = bytes[0];
  return b !== undefined && ((b & 0xf0) === 0x80 || b === 0xde || b === 0xdf);
}

function isRegisterOp(v: unknown): v is RegisterOp {
  if (typeof v !== 'object' || v === null) return false;
  const op = v as Partial<Record<'f' | 'key' | 'value' | 'expected', unknown>>;
  if (typeof op.key !== 'string') return false;
  switch (op.f) {
    case 'get':
    case 'delete':
      return true;
    case 'put':
      return Number.isFinite(op.value);
    case 'cas':
      return Number.isFinite(op.value) && (op.expected === null || Number.isFinite(op.expected));
    default:
      return false;
  }
}

export class RegisterKv implements StateMachine<RegisterResult> {
  private readonly values = new Map<string, number>();
  /** The pad of the write that set each key's value, for keys whose value came with one. */
  private readonly pads = new Map<string, Uint8Array>();
  /**
   * By client: its number, scoped by the member whose authenticated client ordered the command
   * when there is one (origin, under Byzantine protocols): a liar may put an honest client's
   * number in a command, never that client's signature on it.
   */
  private readonly sessions = new Map<string, Session>();

  /** `mutant`: test-only, see STATE_MACHINE_MUTANTS. */
  constructor(private readonly options: { readonly mutant?: string } = {}) {}

  /** Whether apply would take `command` as a command (see StateMachine.isCommand). */
  isCommand(command: Uint8Array): boolean {
    return decodeCommand(command) !== null;
  }

  /** Total: bytes that are no command are answered with a `malformed-command` result, and change nothing. */
  apply(command: Uint8Array, index: Index, origin?: string): RegisterResult {
    const cmd = this.options.mutant === 'trust-command-bytes' ? (unpack(command) as SessionCommand) : decodeCommand(command);
    if (cmd === null) return MALFORMED;
    const client = origin === undefined || this.options.mutant === 'global-sessions' ? `${cmd.client}` : `${origin}|${cmd.client}`;
    const session = this.sessions.get(client);
    if (session !== undefined && cmd.seq <= session.seq) {
      // A retry of what this client already did: answer as the first time, change nothing.
      // (A seq below the latest is a stale duplicate; its answer is no longer kept.)
      return cmd.seq === session.seq ? session.result : { ok: false, value: null };
    }
    const result = this.execute(cmd.op, cmd.pad ?? null);
    this.sessions.delete(client); // re-insert: Map order = least recently active first
    this.sessions.set(client, { seq: cmd.seq, result, lastIndex: index });
    if (this.sessions.size > MAX_SESSIONS) {
      const oldest = this.sessions.keys().next();
      assert(!oldest.done, 'a session to evict');
      this.sessions.delete(oldest.value);
    }
    return result;
  }

  private execute(op: RegisterOp, pad: Uint8Array | null): RegisterResult {
    const current = this.values.get(op.key) ?? null;
    switch (op.f) {
      case 'get':
        return { ok: true, value: current };
      case 'put':
        this.write(op.key, op.value, pad);
        return { ok: true, value: op.value };
      case 'cas':
        if (current !== op.expected) return { ok: false, value: current };
        this.write(op.key, op.value, pad);
        return { ok: true, value: op.value };
      case 'delete':
        this.values.delete(op.key);
        this.pads.delete(op.key);
        return { ok: true, value: null };
    }
  }

  private write(key: string, value: number, pad: Uint8Array | null): void {
    this.values.set(key, value);
    // A copy: the pad is a view into the command's bytes (a WAL segment read back, a batch), and
    // keeping the view would keep, and share, the whole buffer behind it.
    if (pad !== null && pad.byteLength > 0) this.pads.set(key, pad.slice());
    else this.pads.delete(key);
  }

  get(key: string): number | null {
    return this.values.get(key) ?? null;
  }

  /** A read-only command answered from the current state: a get returns the value, anything else nothing new. */
  query(command: Uint8Array): RegisterResult {
    const cmd = decodeCommand(command);
    if (cmd === null) return MALFORMED;
    return { ok: true, value: this.get(cmd.op.key) };
  }

  snapshot(): Uint8Array {
    // `pads` only when some value has one: a state without pads snapshots as it always did.
    return pack(this.pads.size === 0
      ? { values: [...this.values], sessions: [...this.sessions] }
      : { values: [...this.values], sessions: [...this.sessions], pads: [...this.pads] });
  }

  restore(data: Uint8Array): void {
    const s = unpack(data) as { values: [string, number][]; sessions: [string, Session][]; pads?: [string, Uint8Array][] };
    this.pads.clear();
    for (const [k, pad] of s.pads ?? []) this.pads.set(k, pad.slice()); // not views into the snapshot's bytes
    // Refilled in place with what new Maps would hold (the fields keep their first value: see
    // the simulator's shapes.ts on why a rewritten field costs recompiling code that uses it).
    const values = new Map(s.values);
    this.values.clear();
    for (const [k, v] of values) this.values.set(k, v);
    const sessions = new Map(s.sessions);
    this.sessions.clear();
    for (const [k, v] of sessions) this.sessions.set(k, v);
  }
}
