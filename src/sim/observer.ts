/**
 * Counts a measuring run keeps beside its history (SimOptions.observe): messages each member sent
 * and received, the bytes of what honest members sent, and how often the leader changed. Off in
 * the runs that test: they pay nothing for it.
 */
import type { ScriptEvent } from './script.js';

export interface Observations {
  /** Frames each member sent to members and received from members, by member key. */
  readonly messagesByMember: Readonly<Record<string, { readonly sent: number; readonly received: number }>>;
  /** Bytes of the frames honest members sent (their encoded size, an upper bound for text). */
  readonly bytesSent: number;
  /** Times the member seen leading (sampled every tick) was another than the last one seen. */
  readonly leaderChanges: number;
  /** When each leader was first seen, ms. */
  readonly leadersSeen: readonly { readonly atMs: number; readonly member: string }[];
  readonly script: readonly ScriptEvent[];
  /** Clients that start every operation at one member (session clients): that member's key, by client id. */
  readonly clientHomes: Readonly<Record<number, string>>;
}

export class Observer {
  private readonly sent: number[];
  private readonly received: number[];
  private bytes = 0;
  private lastLeader: string | null = null;
  private readonly leaders: { atMs: number; member: string }[] = [];
  readonly script: ScriptEvent[] = [];

  /** `keys`: the members' keys, by their index (SimNode.index, from 1). */
  constructor(private readonly keys: readonly string[]) {
    this.sent = keys.map(() => 0);
    this.received = keys.map(() => 0);
  }

  sentFrame(index: number, bytes: number): void {
    this.sent[index - 1]!++;
    this.bytes += bytes;
  }

  receivedFrame(index: number): void {
    this.received[index - 1]!++;
  }

  sampleLeader(atMs: number, leader: string | null): void {
    if (leader === null || leader === this.lastLeader) return;
    this.lastLeader = leader;
    this.leaders.push({ atMs, member: leader });
  }

  result(clientHomes: Readonly<Record<number, string>>): Observations {
    const messagesByMember: Record<string, { sent: number; received: number }> = {};
    this.keys.forEach((k, i) => { messagesByMember[k] = { sent: this.sent[i]!, received: this.received[i]! }; });
    return { messagesByMember, bytesSent: this.bytes, leaderChanges: Math.max(0, this.leaders.length - 1), leadersSeen: this.leaders, script: this.script, clientHomes };
  }
}
