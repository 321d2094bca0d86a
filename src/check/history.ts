/**
 * The history a linearizability check judges: what clients invoked and what they saw.
 *
 * Models:
 * - `register`: one value per key; `read` returns the value or null (the key does not exist);
 *   `write` sets it; `cas` sets `value` if the current value equals `expected` (a failed cas is
 *   a no-op that returned false); `delete` removes the key.
 * - `kv`: the same operations over many keys; checked per key (P-compositionality).
 *
 * Outcomes: `ok` (took effect, with `result` for reads), `fail` (definitely did not take
 * effect; for cas: the compare failed), `unknown` (may take effect at any point after its
 * invocation, or never: timeouts, crashes, no completion by the end of the history).
 */

export type Value = number | string | null;

export type OpKind = 'read' | 'write' | 'cas' | 'delete';

export interface Operation {
  /** Unique within the history. */
  readonly id: number;
  /** The client (Jepsen "process") that issued it; a client has at most one operation in flight. */
  readonly client: number;
  readonly kind: OpKind;
  /** Key; the register model uses a single key (conventionally ""). */
  readonly key: string;
  /** write: the value written; cas: the new value. */
  readonly value?: Value;
  /** cas: the expected current value. */
  readonly expected?: Value;
  readonly outcome: 'ok' | 'fail' | 'unknown';
  /** read with outcome ok: the value seen. */
  readonly result?: Value;
  /** Invocation and completion times on one clock (ns, ticks, or line numbers: only order matters). */
  readonly invokedAt: number;
  /** Completion time; +Infinity when the outcome is unknown. */
  readonly completedAt: number;
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';
