/**
 * The replicated cluster state that lives beside the key-value store (etcd keeps it in its
 * backend too): members added or updated at runtime with their peer URLs, member ids removed for
 * good, and active alarms. Everything here changes only by applying log entries, so every member
 * lists the same members and the same alarms, and it travels in state machine snapshots.
 *
 * Members of the initial cluster are known to every member from its flags; this table holds what
 * changed since (members added through MemberAdd, peer URLs changed through MemberUpdate).
 */

/** A member as the cluster records it. `nodeId` is its identity inside the consensus protocol. */
export interface MemberRecord {
  readonly nodeId: string;
  /** etcd's 64-bit member id, as a decimal string. */
  readonly id: string;
  readonly peerUrls: readonly string[];
}

export type AlarmKind = 'NOSPACE' | 'CORRUPT';

export interface AlarmRecord {
  /** Member id (decimal string) of the member that raised it. */
  readonly memberId: string;
  readonly alarm: AlarmKind;
}

/** Commands for the cluster state that travel through the log as ordinary KV commands. */
export type ClusterRequest =
  /**
   * `withdraw`: under a Byzantine protocol, the ordering member takes back its standing vote on the
   * alarm, either way (its corruption check finds the member healthy again); it raises or clears
   * nothing, so it cannot count as a vote to clear should the alarm be raised meanwhile. A no-op
   * under a crash-fault protocol, where alarms are no votes.
   */
  | { readonly op: 'alarm'; readonly action: 'activate' | 'deactivate' | 'withdraw'; readonly memberId: string; readonly alarm: AlarmKind }
  | { readonly op: 'member-update'; readonly nodeId: string; readonly id: string; readonly peerUrls: readonly string[] };

export interface ClusterResult {
  readonly op: 'cluster';
  readonly revision: number;
  /** Alarms after the change (what etcd's Alarm call answers). */
  readonly alarms: readonly AlarmRecord[];
}

/**
 * The context a membership change carries through the log (beside the protocol's own fields):
 * which member, with which etcd id and peer URLs.
 */
export interface MemberChangeContext {
  readonly member?: MemberRecord;
}

const ALARM_KINDS: readonly AlarmKind[] = ['NOSPACE', 'CORRUPT'];

export function isClusterRequest(r: { readonly op: string }): r is ClusterRequest {
  return r.op === 'alarm' || r.op === 'member-update';
}

export class ClusterState {
  private members = new Map<string, MemberRecord>();
  private removedIds = new Set<string>();
  private alarms = new Map<string, AlarmRecord>();
  private changes = 0;

  /** Grows whenever a member's record changes (so a runtime can notice new peer URLs). */
  get version(): number {
    return this.changes;
  }

  /** Apply a committed membership change entry (the protocol's change, encoded as JSON). */
  applyMembershipChange(data: Uint8Array): void {
    let change: { kind?: unknown; node?: unknown; context?: MemberChangeContext };
    try {
      change = JSON.parse(new TextDecoder().decode(data)) as typeof change;
    } catch {
      return; // not a change this table tracks
    }
    if (typeof change !== 'object' || change === null) return;
    // Applied on every member: a context that is no member record is ignored, never trusted.
    const member = isMemberRecord(change.context?.member) ? change.context.member : undefined;
    this.changes++;
    if ((change.kind === 'add-voter' || change.kind === 'add-learner') && member !== undefined) {
      this.members.set(member.nodeId, { nodeId: member.nodeId, id: member.id, peerUrls: [...member.peerUrls] });
      this.removedIds.delete(member.id);
    } else if (change.kind === 'remove' && typeof change.node === 'string') {
      const id = member?.id ?? this.members.get(change.node)?.id;
      if (id !== undefined) this.removedIds.add(id);
      this.members.delete(change.node);
    }
  }

  apply(req: ClusterRequest, revision: number): ClusterResult {
    switch (req.op) {
      case 'alarm': {
        const key = `${req.memberId}/${req.alarm}`;
        if (req.action === 'activate') this.alarms.set(key, { memberId: req.memberId, alarm: req.alarm });
        else if (req.action === 'deactivate') this.alarms.delete(key);
        break;
      }
      case 'member-update':
        this.changes++;
        this.members.set(req.nodeId, { nodeId: req.nodeId, id: req.id, peerUrls: [...req.peerUrls] });
        break;
    }
    return { op: 'cluster', revision, alarms: this.alarmList() };
  }

  member(nodeId: string): MemberRecord | undefined {
    return this.members.get(nodeId);
  }

  allMembers(): MemberRecord[] {
    return [...this.members.values()];
  }

  wasRemoved(id: string): boolean {
    return this.removedIds.has(id);
  }

  alarmList(): AlarmRecord[] {
    return [...this.alarms.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : a.alarm.localeCompare(b.alarm)));
  }

  hasAlarmOn(memberId: string, alarm: AlarmKind): boolean {
    return this.alarms.has(`${memberId}/${alarm}`);
  }

  hasAlarm(alarm: AlarmKind): boolean {
    for (const a of this.alarms.values()) if (a.alarm === alarm) return true;
    return false;
  }

  /** How many distinct members `alarm` is raised on. */
  membersAlarmed(alarm: AlarmKind): number {
    let n = 0;
    for (const a of this.alarms.values()) if (a.alarm === alarm) n++;
    return n;
  }

  /** Forget everything (a snapshot restored into a new cluster starts with its own members). */
  clear(): void {
    this.changes++;
    this.members.clear();
    this.removedIds.clear();
    this.alarms.clear();
  }

  toSnapshot(): unknown[] {
    return [
      [...this.members.values()].map((m) => [m.nodeId, m.id, [...m.peerUrls]]),
      [...this.removedIds],
      [...this.alarms.values()].map((a) => [a.memberId, a.alarm]),
    ];
  }

  fromSnapshot(data: unknown): void {
    this.clear();
    if (!Array.isArray(data)) return; // snapshots from before this table existed
    const [members, removed, alarms] = data as [[string, string, string[]][], string[], [string, string][]];
    for (const [nodeId, id, peerUrls] of members) this.members.set(nodeId, { nodeId, id, peerUrls });
    for (const id of removed) this.removedIds.add(id);
    for (const [memberId, alarm] of alarms) {
      if ((ALARM_KINDS as readonly string[]).includes(alarm)) this.alarms.set(`${memberId}/${alarm}`, { memberId, alarm: alarm as AlarmKind });
    }
  }
}

function isMemberRecord(v: unknown): v is MemberRecord {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Partial<Record<keyof MemberRecord, unknown>>;
  return typeof m.nodeId === 'string' && typeof m.id === 'string' && Array.isArray(m.peerUrls) && m.peerUrls.every((u) => typeof u === 'string');
}
