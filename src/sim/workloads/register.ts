/**
 * The register workload: get / put / cas / delete on a few keys of the register map, through
 * client sessions. Now and then a write carries a large padding, so that commands near the
 * message limits travel through every path (batching, snapshots, catch-up).
 */
import type { Random } from '../../core/prng.js';
import type { StateMachine } from '../../core/replica.js';
import { pack, unpack } from '../../core/codec.js';
import { RegisterKv, type RegisterOp, type RegisterResult, type SessionCommand } from '../../statemachine/register-kv.js';
import { randomRegisterOp, recordedOperation } from './history.js';
import type { Workload, WorkloadOp } from './workload.js';

/** Share of client reads served by a read barrier and a local read (the rest go through the log). */
export const LOCAL_READ_SHARE = 0.8;
/**
 * Share of writes that carry a large padding, and its largest size; in a large-writes run the
 * higher share, so that batches of several large values (near the message budget) are common.
 */
export const LARGE_WRITE_SHARE = 0.002;
export const LARGE_WRITES_RUN_WRITE_SHARE = 0.2;
export const LARGE_WRITE_MAX_BYTES = 256 * 1024;
/**
 * Every pad's bytes (pack copies them into the command): no fresh array of up to 256 KiB per
 * large write. Not zeros: a sector of a pad a power loss left unwritten reads as zeros, and must
 * differ from what was written for the storage's checks to meet it.
 */
const PAD = new Uint8Array(LARGE_WRITE_MAX_BYTES).map((_, i) => (i * 131 + 17) & 0xff || 1);

export interface RegisterWorkloadOp extends WorkloadOp {
  readonly op: RegisterOp;
  readonly padBytes: number;
}

export class RegisterWorkload implements Workload<RegisterWorkloadOp, RegisterResult> {
  readonly name = 'register';

  /** `mutant`: the run's mutant, when it is one of the state machine's (STATE_MACHINE_MUTANTS). */
  private readonly largeWriteShare: number;

  constructor(private readonly keys: number, private readonly mutant?: string, largeWrites = false) {
    this.largeWriteShare = largeWrites ? LARGE_WRITES_RUN_WRITE_SHARE : LARGE_WRITE_SHARE;
  }

  createStateMachine(): StateMachine<RegisterResult> {
    return new RegisterKv(this.mutant === undefined ? {} : { mutant: this.mutant });
  }

  encodeResult(r: RegisterResult): Uint8Array {
    return pack(r);
  }

  decodeResult(bytes: Uint8Array): RegisterResult {
    return unpack(bytes) as RegisterResult;
  }

  next(random: Random, _client: number, readsOnly: boolean): RegisterWorkloadOp {
    const key = `k${random.int(1, this.keys)}`;
    if (readsOnly) return { op: { f: 'get', key }, label: `get ${key}`, localRead: true, readOnly: true, padBytes: 0 };
    const op = randomRegisterOp(random, key);
    const isRead = op.f === 'get';
    const padBytes = !isRead && random.chance(this.largeWriteShare) ? random.int(1, LARGE_WRITE_MAX_BYTES) : 0;
    return { op, label: `${op.f} ${key}${padBytes > 0 ? ` +${padBytes}B` : ''}`, localRead: isRead && random.chance(LOCAL_READ_SHARE), readOnly: isRead && random.chance(0.5), padBytes };
  }

  command(o: RegisterWorkloadOp, session: { client: number; seq: number }): Uint8Array {
    const cmd: SessionCommand = { client: session.client, seq: session.seq, op: o.op, ...(o.padBytes > 0 ? { pad: PAD.subarray(0, o.padBytes) } : {}) };
    return pack(cmd);
  }

  readLocal(sm: StateMachine<RegisterResult>, o: RegisterWorkloadOp): RegisterResult {
    return { ok: true, value: (sm as RegisterKv).get(o.op.key) };
  }

  record(o: RegisterWorkloadOp, client: number, outcome: 'ok' | 'unknown', result: RegisterResult | undefined, invokedAt: number, completedAt: number, nextId: () => number) {
    const op = o.op;
    const r = result;
    if (outcome === 'ok' && r !== undefined) {
      if (op.f === 'get') return [recordedOperation(nextId(), client, op, 'ok', invokedAt, completedAt, r.value)];
      if (op.f === 'cas') return [recordedOperation(nextId(), client, op, r.ok ? 'ok' : 'fail', invokedAt, completedAt, undefined)];
      return [recordedOperation(nextId(), client, op, 'ok', invokedAt, completedAt, undefined)];
    }
    return [recordedOperation(nextId(), client, op, 'unknown', invokedAt, completedAt, undefined)];
  }
}
