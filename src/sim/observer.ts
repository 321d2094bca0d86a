/**
 * Counts a measuring run keeps beside its history (SimOptions.observe): messages each member sent
 * and received, the bytes of what honest members sent, and how often the leader changed. Off in
 * the runs that test: they pay nothing for it.
 */
import type { ScriptEvent } from './script.js';

export interface Observations {
  /** Frames each member sent to members and received from members, by member key. */
  readonly messagesByMember: Readonly<Record<string, { readonly sent: number; readonly received: number }>>;
  /** Bytes of the frames members sent (their encoded size, an upper bound for text). */
  readonly bytesSent: number;
  /** Times the leader seen (sampled every tick: member and term) was another than the last one seen. */
  readonly leaderChanges: number;
  /** When each leader (a member in a term) was first seen, ms. */
  readonly leadersSeen: readonly { readonly atMs: number; readonly member: string; readonly term: number }[];
  /** Frames sent and their bytes between the two times of SimOptions.observeWindow (null: no window, or not reached). */
  readonly window: {
    readonly messagesSent: number;
    readonly bytesSent: number;
    readonly messagesByMember: Readonly<Record<string, { readonly sent: number; readonly received: number }>>;
  } | null;
  readonly script: readonly ScriptEvent[];
  /** Clients that start every operation at one member (session clients): that member's key, by client id. */
  readonly clientHomes: Readonly<Record<number, string>>;
}

export class Observer {
  private readonly sent: number[];
  private readonly received: number[];
  private bytes = 0;
  private lastLeader: string | null = null;
  private readonly leaders: { atMs: number; member: string; term: number }[] = [];
  private readonly marks = new Map<'from' | 'to', { sent: number[]; received: number[]; bytes: number }>();
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

  sampleLeader(atMs: number, leader: string | null, term: number): void {
    if (leader === null) return;
    const key = `${leader}@${term}`;
    if (key === this.lastLeader) return;
    this.lastLeader = key;
    this.leaders.push({ atMs, member: leader, term });
  }

  markWindow(which: 'from' | 'to'): void {
    this.marks.set(which, { sent: [...this.sent], received: [...this.received], bytes: this.bytes });
  }

  result(clientHomes: Readonly<Record<number, string>>): Observations {
    const messagesByMember: Record<string, { sent: number; received: number }> = {};
    this.keys.forEach((k, i) => { messagesByMember[k] = { sent: this.sent[i]!, received: this.received[i]! }; });
    // A run that stopped early (a failure found mid-run ends it) closes its window where it stopped.
    const from = this.marks.get('from');
    const to = this.marks.get('to') ?? (from === undefined ? undefined : { sent: [...this.sent], received: [...this.received], bytes: this.bytes });
    let window: Observations['window'] = null;
    if (from !== undefined && to !== undefined) {
      const byMember: Record<string, { sent: number; received: number }> = {};
      this.keys.forEach((k, i) => { byMember[k] = { sent: to.sent[i]! - from.sent[i]!, received: to.received[i]! - from.received[i]! }; });
      window = { messagesSent: Object.values(byMember).reduce((n, c) => n + c.sent, 0), bytesSent: to.bytes - from.bytes, messagesByMember: byMember };
    }
    return { messagesByMember, bytesSent: this.bytes, leaderChanges: Math.max(0, this.leaders.length - 1), leadersSeen: this.leaders, script: this.script, clientHomes, window };
  }
}
