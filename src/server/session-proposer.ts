/**
 * Proposes KV commands under one client session per server process, so that a proposal the
 * server retries (after a timeout or a leader change) takes effect at most once: the retry
 * carries the same (client, seq) and the state machine answers it with the first result.
 */
import { randomUUID } from 'node:crypto';
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
  ) {
    this.client = `${memberName}/${randomUUID()}`;
  }

  /** `user`: who the request's token names (auth is checked at apply), null without a token. */
  async propose(request: KvCommand['request'], user: AuthUser = null): Promise<KvOutcome> {
    const seq = this.nextSeq++;
    this.pending.add(seq);
    try {
      return await withRetry(this.policy, () => {
        // No size check here: the server limits a request in the bytes the client sent
        // (request-bytes.ts), and the node refuses a command over its maxCommandBytes.
        const command = encodeKvCommand({ client: this.client, seq, lowestPending: this.lowestPending(), request, ...(user === null ? {} : { user }) });
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
