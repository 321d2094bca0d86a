/**
 * The periodic corruption check (etcd's `--experimental-corrupt-check-time`): members that applied
 * the same log hold the same keys, so the member that leads compares its HashKV at its current
 * revision with every other member's at that revision, asked on the peer port. A member whose
 * hash differs at the same compaction point gets a CORRUPT alarm, through the log: from then on
 * every member refuses writes ("etcdserver: corrupt cluster") until an operator repairs the member
 * (restores it from a healthy one's snapshot, or removes and re-adds it) and disarms the alarm.
 *
 * A member that has not applied that revision yet, or compacted differently, or does not answer,
 * is skipped this round: only a like-for-like disagreement raises the alarm.
 */
export interface HashAnswer {
  readonly hash: number;
  readonly compactRevision: number;
}

export interface PeerToCheck {
  /** etcd member id (decimal). */
  readonly memberId: string;
  ask(revision: number): Promise<HashAnswer | { error: string }>;
}

export interface CorruptionCheckPorts {
  readonly setTimer: (ms: number, fn: () => void) => () => void;
  readonly leading: () => boolean;
  readonly revision: () => number;
  /** This member's HashKV at `revision` (which it has applied). */
  readonly localHash: (revision: number) => HashAnswer;
  readonly peers: () => readonly PeerToCheck[];
  /** Members with a CORRUPT alarm already (not raised again). */
  readonly alarmed: () => ReadonlySet<string>;
  readonly raise: (memberId: string) => Promise<void>;
  readonly log: (level: 'warn' | 'error', message: string, fields: Record<string, unknown>) => void;
}

export class CorruptionChecker {
  private cancel: (() => void) | null = null;
  private checking = false;
  private stopped = false;

  constructor(private readonly intervalMs: number, private readonly ports: CorruptionCheckPorts) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.ports.setTimer(this.intervalMs, () => {
      this.cancel = null;
      void this.check().finally(() => this.schedule());
    });
  }

  /** One round; resolves when every peer answered or was given up on. */
  async check(): Promise<void> {
    if (this.checking || !this.ports.leading()) return;
    this.checking = true;
    try {
      const revision = this.ports.revision();
      const mine = this.ports.localHash(revision);
      const answers = await Promise.all(this.ports.peers().map(async (p) => ({ p, a: await p.ask(revision).catch((err: unknown) => ({ error: (err as Error).message })) })));
      const alarmed = this.ports.alarmed();
      for (const { p, a } of answers) {
        if ('error' in a || a.compactRevision !== mine.compactRevision || a.hash === mine.hash || alarmed.has(p.memberId)) continue;
        this.ports.log('error', 'corruption check: a member holds different keys at the same revision; raising the CORRUPT alarm', {
          member: p.memberId, revision, hash: a.hash, leaderHash: mine.hash, compactRevision: a.compactRevision,
        });
        await this.ports.raise(p.memberId).catch((err: unknown) => this.ports.log('warn', 'corruption check: the CORRUPT alarm did not commit; the next round raises it again', { member: p.memberId, error: (err as Error).message }));
      }
    } finally {
      this.checking = false;
    }
  }
}
