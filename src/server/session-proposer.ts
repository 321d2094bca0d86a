/**
 * Proposes KV commands under one client session per server process, so that a proposal the
 * server retries (after a timeout or a leader change) takes effect at most once: the retry
 * carries the same (client, seq) and the state machine answers it with the first result.
 */
import { randomUUID } from 'node:crypto';
import { QuorateError } from '../core/errors.js';
import type { ServingNode } from './serving-node.js';
import { encodeKvCommand, type AuthUser, type KvCommand, type KvOutcome } from '../statemachine/mvcc/index.js';
import { withRetry, type RetryPolicy } from './retry.js';

export class SessionProposer {
  private readonly client: string;
  private nextSeq = 1;
  /** Sequence numbers still waiting for an answer; insertion order is ascending order. */
  private readonly pending = new Set<number>();

  constructor(
    private readonly node: ServingNode,
    memberName: string,
    private readonly policy: RetryPolicy,
    /** Largest encoded request accepted (etcd --max-request-bytes). */
    private readonly maxRequestBytes: number,
  ) {
    this.client = `${memberName}/${randomUUID()}`;
  }

  /** `user`: who the request's token names (auth is checked at apply), null without a token. */
  async propose(request: KvCommand['request'], user: AuthUser = null): Promise<KvOutcome> {
    const seq = this.nextSeq++;
    this.pending.add(seq);
    try {
      return await withRetry(this.policy, () => {
        const command = encodeKvCommand({ client: this.client, seq, lowestPending: this.lowestPending(), request, ...(user === null ? {} : { user }) });
        if (command.byteLength > this.maxRequestBytes) {
          throw new QuorateError('REQUEST_TOO_LARGE', `request of ${command.byteLength} bytes exceeds --max-request-bytes=${this.maxRequestBytes}`);
        }
        return this.node.propose(command);
      }, () => !this.node.running);
    } finally {
      this.pending.delete(seq);
    }
  }

  private lowestPending(): number {
    const first = this.pending.values().next();
    return first.done === true ? this.nextSeq : first.value;
  }
}
