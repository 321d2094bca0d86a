/**
 * The scenario's network: messages in flight in the order they were sent, links a scenario
 * cuts (partitions, checked when a message would be delivered), rules that a sender's
 * messages pass through as they leave (a lossy link, a silent replica, a Byzantine rewrite), and
 * refusals: messages the sender's transport would not take (no connection, a full queue), which
 * the sender's driver then reports to its core.
 */
import type { Envelope } from '../../../src/core/replica.js';

export interface Rule<M extends Envelope> {
  /** How the scenario named it, printed when it changes a message. */
  readonly name: string;
  /** The message as it goes on the wire: unchanged, rewritten, several, or none (dropped). */
  apply(m: M): M | readonly M[] | null;
}

/** Which messages a command means: `from=`, `to=`, `type=` (a `!type` excludes). Empty matches all. */
export interface MessageFilter {
  readonly from: ReadonlySet<string>;
  readonly to: ReadonlySet<string>;
  readonly types: ReadonlySet<string>;
  readonly notTypes: ReadonlySet<string>;
}

export function messageFilter(options: ReadonlyMap<string, string>): MessageFilter {
  const list = (key: string) => (options.get(key) ?? '').split(',').filter((s) => s !== '');
  const types = list('type');
  return {
    from: new Set(list('from')),
    to: new Set(list('to')),
    types: new Set(types.filter((t) => !t.startsWith('!'))),
    notTypes: new Set(types.filter((t) => t.startsWith('!')).map((t) => t.slice(1))),
  };
}

export function describeFilter(f: MessageFilter): string {
  const parts: string[] = [];
  if (f.from.size > 0) parts.push(`from=${[...f.from].join(',')}`);
  if (f.to.size > 0) parts.push(`to=${[...f.to].join(',')}`);
  const types = [...f.types, ...[...f.notTypes].map((t) => `!${t}`)];
  if (types.length > 0) parts.push(`type=${types.join(',')}`);
  return parts.length === 0 ? 'all' : parts.join(' ');
}

export class Network<M extends Envelope> {
  private queue: M[] = [];
  private readonly cut = new Set<string>();
  private rules: Rule<M>[] = [];
  private refusals: { readonly name: string; readonly filter: MessageFilter }[] = [];

  constructor(private readonly typeOf: (m: M) => string) {}

  matches(f: MessageFilter, m: M): boolean {
    const type = this.typeOf(m);
    return (f.from.size === 0 || f.from.has(m.from)) && (f.to.size === 0 || f.to.has(m.to))
      && (f.types.size === 0 || f.types.has(type)) && !f.notTypes.has(type);
  }

  /** A message leaves its sender: it passes every rule, then joins the messages in flight. */
  send(m: M): { readonly onWire: readonly M[]; readonly changedBy: string | null } {
    let batch: readonly M[] = [m];
    let changedBy: string | null = null;
    for (const r of this.rules) {
      const next: M[] = [];
      for (const x of batch) {
        const y = r.apply(x);
        if (y === null) continue;
        if (Array.isArray(y)) next.push(...(y as readonly M[]));
        else next.push(y as M);
      }
      if (next.length !== batch.length || next.some((x, i) => x !== batch[i])) changedBy ??= r.name;
      batch = next;
    }
    this.queue.push(...batch);
    return { onWire: batch, changedBy };
  }

  /** Put a message in flight as is (a forged or replayed one): no rule sees it. */
  inject(m: M): void {
    this.queue.push(m);
  }

  inFlight(): readonly M[] {
    return this.queue;
  }

  /** Take the messages in flight that match, in order; the others stay. */
  take(f: MessageFilter): M[] {
    const taken: M[] = [];
    const kept: M[] = [];
    for (const m of this.queue) (this.matches(f, m) ? taken : kept).push(m);
    this.queue = kept;
    return taken;
  }

  /** Remove every message for which `pred` holds (a node crashed: what was addressed to it is gone). */
  discard(pred: (m: M) => boolean): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((m) => !pred(m));
    return before - this.queue.length;
  }

  /** From now on the sender's transport refuses the messages `filter` matches (see `refusedBy`). */
  addRefusal(name: string, filter: MessageFilter): void {
    this.refusals.push({ name, filter });
  }

  /** The refusal that stops `m` at its sender's transport, or null: it goes on to the rules. */
  refusedBy(m: M): string | null {
    return this.refusals.find((r) => this.matches(r.filter, m))?.name ?? null;
  }

  addRule(r: Rule<M>): void {
    this.rules.push(r);
  }

  clearRules(): void {
    this.rules = [];
    this.refusals = [];
  }

  ruleNames(): string[] {
    return [...this.refusals.map((r) => r.name), ...this.rules.map((r) => r.name)];
  }

  /** Cut every link between any two of `groups` (both directions); links inside a group stay. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const a of groups) for (const b of groups) {
      if (a === b) continue;
      for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
    }
  }

  cutLink(from: string, to: string): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  isCut(from: string, to: string): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  cutLinks(): string[] {
    return [...this.cut].sort().map((l) => l.replace('>', '->'));
  }
}
