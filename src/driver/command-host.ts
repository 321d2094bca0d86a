/**
 * The default way committed entries reach the state machine: each `command` entry is one
 * command, applied in log order and answered by its (index, term); `config` entries go to the
 * state machine's applyConfig; `noop` entries only advance the applied index. A snapshot's data
 * is the state machine's own snapshot. Crash-fault protocols (Raft, Multi-Paxos) use it.
 */
import { assert } from '../core/assert.js';
import type { Index, Term } from '../core/ids.js';
import type { AppliedPosition, ApplyOutput, ReplicaHost, SnapshotCheck, SnapshotInstall } from '../core/protocol.js';
import type { Envelope, Ready, Snapshot, SnapshotRestoring, StateMachine } from '../core/replica.js';

export class CommandHost<M extends Envelope, H, R> implements ReplicaHost<M, H, R> {
  readonly driverSnapshots = true;
  /** The last entry applied (index 0: nothing yet). */
  private position: AppliedPosition = { index: 0 as Index, term: 0 as Term };
  /**
   * The last received snapshot checked whole (beginCheck), with its decoding: its install swaps that
   * in rather than decoding it again. At most one (a newer check replaces it; an install takes it).
   */
  private checked: { readonly data: Uint8Array; readonly restoring: SnapshotRestoring } | null = null;

  constructor(private readonly sm: StateMachine<R>) {}

  restart(snapshot: Snapshot | null, durableApplied: AppliedPosition | null): AppliedPosition | null {
    if (durableApplied !== null && durableApplied.index >= (snapshot?.meta.index ?? 0)) {
      // The state machine kept itself further than the snapshot: nothing to restore.
      this.position = durableApplied;
      return durableApplied;
    }
    if (snapshot === null) return null;
    return this.install(snapshot);
  }

  install(snapshot: Snapshot): AppliedPosition {
    this.sm.restore(snapshot.data);
    this.position = { index: snapshot.meta.index, term: snapshot.meta.term };
    return this.position;
  }

  beginInstall(snapshot: Snapshot): SnapshotInstall | null {
    if (this.sm.beginRestore === undefined) return null;
    // The very bytes checked (the core hands the snapshot it checked to its persist): decoded already.
    const checked = this.checked !== null && this.checked.data === snapshot.data ? this.checked.restoring : null;
    this.checked = null;
    const restoring = checked ?? this.sm.beginRestore(snapshot.data);
    const position = { index: snapshot.meta.index, term: snapshot.meta.term };
    this.position = position;
    let done = false;
    return {
      step: (budgetBytes) => {
        assert(!done, 'an install is stepped until it is done, not after');
        if (checked === null && !restoring.step(budgetBytes)) return null;
        restoring.install();
        done = true;
        return position;
      },
    };
  }

  beginCheck(snapshot: Snapshot): SnapshotCheck | null {
    const begin = this.sm.beginRestore?.bind(this.sm);
    if (begin === undefined) return null;
    this.checked = null;
    let restoring: SnapshotRestoring | null = null;
    let over = false;
    return {
      step: (budgetBytes) => {
        assert(!over, 'a check is stepped until it has its answer, not after');
        // What a leader sent is input: whatever its decoding throws (a format this member cannot
        // read, truncated or altered bytes, a table that fails its own checks) refuses it.
        try {
          restoring ??= begin(snapshot.data);
          if (!restoring.step(budgetBytes)) return null;
        } catch {
          over = true;
          return false;
        }
        over = true;
        this.checked = { data: snapshot.data, restoring };
        return true;
      },
    };
  }

  apply(ready: Ready<M, H>, out: ApplyOutput<M, R>): AppliedPosition | null {
    if (ready.apply.length === 0) return null;
    for (const e of ready.apply) {
      assert(e.index === this.position.index + 1, () => `apply in order: got ${e.index} after ${this.position.index}`);
      let result: R | undefined;
      if (e.kind === 'command') result = this.sm.apply(e.data, e.index);
      else if (e.kind === 'config') {
        this.sm.applyConfig?.(e.data, e.index);
        out.configApplied();
      }
      this.position = { index: e.index, term: e.term };
      out.applied(e.index, e.term, result);
    }
    return this.position;
  }

  snapshotToKeep(): Snapshot | null {
    return null;
  }
}
