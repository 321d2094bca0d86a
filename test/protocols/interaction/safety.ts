/**
 * The safety properties every log-based protocol owes its clients, checked from outside on
 * what the environment sees (the paper's Figure 3 for Raft; the same facts for Paxos and PBFT):
 *
 * - election safety: at most one leader (primary, ballot owner) per term (view, ballot);
 * - state machine safety: no two nodes apply different entries at one index;
 * - each node applies every index once, in order (a restart resumes where its state machine is).
 *
 * Protocols add their own (log matching, votes durable before they are sent, Paxos's monitor)
 * through the adapter. A violation is recorded (once) rather than thrown, so a mutant's
 * scenario can print what broke and where, and go on to show what follows from it.
 */
import type { NodeId } from '../../../src/core/ids.js';

export class SafetyRecord {
  private readonly violations: string[] = [];
  private readonly seen = new Set<string>();
  /** index → what was applied there first, and by whom. */
  private readonly appliedAt = new Map<number, { text: string; by: NodeId }>();
  /** node → highest index its state machine holds. */
  private readonly appliedThrough = new Map<NodeId, number>();
  /** term → the node that led it. */
  private readonly leaders = new Map<number, NodeId>();

  /** Record a violation; returns it when it is new (to print), null when already known. */
  violate(rule: string, detail: string): string | null {
    const v = `${rule}: ${detail}`;
    if (this.seen.has(v)) return null;
    this.seen.add(v);
    this.violations.push(v);
    return v;
  }

  all(): readonly string[] {
    return this.violations;
  }

  /** The node's state machine now holds everything through `index` (start, restart, snapshot). */
  resumeAt(node: NodeId, index: number): void {
    this.appliedThrough.set(node, index);
  }

  /** `node` applied `text` at `index`; returns the violations this makes (new ones only). */
  applied(node: NodeId, index: number, text: string): string[] {
    const out: string[] = [];
    const through = this.appliedThrough.get(node) ?? 0;
    if (index !== through + 1) {
      const v = this.violate('apply once, in order', `${node} applied index ${index} after ${through}`);
      if (v !== null) out.push(v);
    }
    this.appliedThrough.set(node, Math.max(through, index));
    const first = this.appliedAt.get(index);
    if (first === undefined) {
      this.appliedAt.set(index, { text, by: node });
    } else if (first.text !== text) {
      const v = this.violate('state machine safety', `index ${index} applied as ${first.text} on ${first.by} and as ${text} on ${node}`);
      if (v !== null) out.push(v);
    }
    return out;
  }

  /** `node` believes it leads `term`. */
  leads(node: NodeId, term: number): string | null {
    const prev = this.leaders.get(term);
    if (prev === undefined) {
      this.leaders.set(term, node);
      return null;
    }
    return prev === node ? null : this.violate('election safety', `${prev} and ${node} both lead term ${term}`);
  }

  /** Terms that had a leader (for property tests that check they were not vacuous). */
  leaderTerms(): number {
    return this.leaders.size;
  }
}
