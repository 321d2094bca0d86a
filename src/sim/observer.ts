/**
 * Counts a measuring run keeps beside its history (SimOptions.observe): the frames each member
 * sent and received and the bytes sent, over SimOptions.observeWindow (or the whole run), and the
 * leaders seen. Off in the runs that test: they pay nothing for it.
 */
import type { ScriptEvent } from './script.js';

export interface Observations {
  /** Frames sent between members, their bytes (encoded size, an upper bound for text), and each member's share, over the window. */
  readonly window: {
    readonly messagesSent: number;
    readonly bytesSent: number;
    readonly messagesByMember: Readonly<Record<string, { readonly sent: number; readonly received: number }>>;
  };
  /** When each leader (a member in a term, sampled every tick) was first seen, ms. */
  readonly leadersSeen: readonly { readonly atMs: number; readonly member: string; readonly term: number }[];
  readonly script: readonly ScriptEvent[];
  /** Clients that start every operation at one member (session clients): that member's key, by client id. */
  readonly clientHomes: Readonly<Record<number, string>>;
}

interface Counts {
  readonly sent: readonly number[];
  readonly received: readonly number[];
  readonly bytes: number;
}

export class Observer {
  private readonly sent: number[];
  private readonly received: number[];
  private bytes = 0;
  private lastLeader: string | null = null;
  private readonly leaders: { atMs: number; member: string; term: number }[] = [];
  /** The counts when the window opened (the run's start unless marked) and closed (its end unless marked). */
  private from: Counts;
  private to: Counts | null = null;
  readonly script: ScriptEvent[] = [];

  /** `keys`: the members' keys, by their index (SimNode.index, from 1). */
  constructor(private readonly keys: readonly string[]) {
    this.sent = keys.map(() => 0);
    this.received = keys.map(() => 0);
    this.from = this.counts();
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
    if (which === 'from') this.from = this.counts();
    else this.to = this.counts();
  }

  result(clientHomes: Readonly<Record<number, string>>): Observations {
    // A run that stopped early (a failure found mid-run ends it) closes its window where it stopped.
    const from = this.from;
    const to = this.to ?? this.counts();
    const byMember: Record<string, { sent: number; received: number }> = {};
    this.keys.forEach((k, i) => { byMember[k] = { sent: to.sent[i]! - from.sent[i]!, received: to.received[i]! - from.received[i]! }; });
    const window = { messagesSent: Object.values(byMember).reduce((n, c) => n + c.sent, 0), bytesSent: to.bytes - from.bytes, messagesByMember: byMember };
    return { window, leadersSeen: this.leaders, script: this.script, clientHomes };
  }

  private counts(): Counts {
    return { sent: [...this.sent], received: [...this.received], bytes: this.bytes };
  }
}
