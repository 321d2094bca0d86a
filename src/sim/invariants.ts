/**
 * Safety invariants the simulator checks while it runs. Generic ones need only the Replica
 * contract; log-based ones need a core that exposes its log (Raft does).
 */
import type { Index, NodeId, Term } from '../core/ids.js';
import { sameBytes } from '../core/bytes.js';
import { InvariantViolation, type LogEntry } from '../core/replica.js';
import type { LogView } from '../core/protocol.js';

export type { LogView };

export class SafetyViolation extends InvariantViolation {
  override readonly name = 'SafetyViolation';
}

export function entryDigest(e: LogEntry): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < e.data.length; i++) h = Math.imul(h ^ e.data[i]!, 0x01000193);
  return `${e.term}:${e.kind}:${e.data.length}:${(h >>> 0).toString(16)}`;
}

/** What a command is, whatever term carried it: two members applying the same bytes at an index agree. */
export function commandDigest(e: LogEntry): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < e.data.length; i++) h = Math.imul(h ^ e.data[i]!, 0x01000193);
  return `${e.kind}:${e.data.length}:${(h >>> 0).toString(16)}`;
}

export class Invariants {
  /** Election safety: term → the one leader of that term. */
  private readonly leaders = new Map<number, NodeId>();

  /**
   * index → a term by which the entry was surely committed: the term of the first node seen
   * applying it (a node learns of a commit in the committing leader's term or later).
   */
  private readonly committedBy = new Map<number, number>();
  checks = 0;
  /** member → request → the log position it executed the request at (see executedOnce). */
  private readonly executions = new Map<string, Map<string, number>>();
  /** index → the first entry seen applied there (see appliedCommand). */
  private readonly commands = new Map<number, LogEntry>();

  leaderSeen(id: NodeId, term: number): void {
    this.checks++;
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) throw new SafetyViolation('election safety', `${prev} and ${id} both lead term ${term}`);
    this.leaders.set(term, id);
  }

  /**
   * State machine safety: every member applies the same command at each index. Compared by the
   * command, not the term that carried it (a protocol may commit one value under several ballots
   * or views). The applying member's term when the entry is first seen applied marks a term by
   * which it was surely committed (a member learns of a commit in the committing term or later).
   */
  appliedCommand(id: NodeId, entry: LogEntry, currentTerm: number): void {
    this.checks++;
    const seen = this.commands.get(entry.index);
    if (seen === undefined) {
      this.commands.set(entry.index, entry);
      this.committedBy.set(entry.index, currentTerm);
      return;
    }
    // Members usually hold the very same bytes (messages carry them); compare them only when not.
    if (seen.data === entry.data && seen.kind === entry.kind) return;
    if (seen.kind !== entry.kind || !sameBytes(seen.data, entry.data)) {
      throw new SafetyViolation('state machine safety', `${id} applied ${commandDigest(entry)} at index ${entry.index}, another member applied ${commandDigest(seen)}`);
    }
  }

  /**
   * Exactly once: a member executes a client's request at one log position only (it may execute
   * it again there, after a restart from an earlier checkpoint; never at another position).
   */
  executedOnce(member: string, request: string, at: number): void {
    this.checks++;
    let m = this.executions.get(member);
    if (m === undefined) this.executions.set(member, m = new Map());
    const first = m.get(request);
    if (first === undefined) m.set(request, at);
    else if (first !== at) throw new SafetyViolation('exactly once', `${member} executed request ${request} at ${first} and again at ${at}`);
  }

  /**
   * Leader completeness (§5.4): an entry committed in term t is in the log of every leader of a
   * term after t. (A leader of an older term, elected late from delayed votes, need not have it.)
   */
  leaderComplete(id: NodeId, term: number, log: LogView): void {
    this.checks++;
    const first = log.firstIndex();
    for (const [index, committed] of this.commands) {
      if (index < first) continue; // compacted into its snapshot, which covers it
      if ((this.committedBy.get(index) ?? Infinity) >= term) continue;
      const e = log.entryAt(index as Index);
      if (e === undefined || e.term !== committed.term || e.kind !== committed.kind || !sameBytes(e.data, committed.data)) {
        throw new SafetyViolation('leader completeness', `leader ${id} lacks committed entry ${index} (${entryDigest(committed)}); has ${e === undefined ? 'nothing' : entryDigest(e)}`);
      }
    }
  }

  /** Log matching: if two logs hold an entry with the same index and term, they agree up to it. */
  logMatching(logs: ReadonlyMap<NodeId, LogView>): void {
    this.checks++;
    const ids = [...logs.keys()];
    for (let a = 0; a < ids.length; a++) {
      for (let b = a + 1; b < ids.length; b++) {
        const x = logs.get(ids[a]!)!;
        const y = logs.get(ids[b]!)!;
        const lo = Math.max(x.firstIndex(), y.firstIndex());
        let hi = Math.min(x.lastIndex(), y.lastIndex());
        // Find the highest index where both have the same term; below it, everything must agree.
        while (hi >= lo && x.termAt(hi as Index) !== y.termAt(hi as Index)) hi--;
        for (let i = hi; i >= lo; i--) {
          const ex = x.entryAt(i as Index)!;
          const ey = y.entryAt(i as Index)!;
          if (entryDigest(ex) !== entryDigest(ey)) {
            throw new SafetyViolation('log matching', `${ids[a]} and ${ids[b]} agree at index ${hi} but differ at ${i}`);
          }
        }
      }
    }
  }
}
