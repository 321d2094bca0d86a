/**
 * Faults at fixed times, for measurements that compare engines under the same events
 * (`quorate compare`): the leader crashed, members crashed for good, one link of the leader cut.
 * The nemesis's random faults are a separate thing (a measuring run turns them off). A member
 * crashed here stays down until the fault window ends (the simulator restarts everyone then).
 */
import type { SimNode } from './sim-node.js';

export type ScriptStep =
  /** The member leading now stops (nothing if none leads). */
  | { readonly atMs: number; readonly kind: 'crash-leader' }
  /** `count` members stop: the leader first, if one leads, then the others in order. */
  | { readonly atMs: number; readonly kind: 'crash-members'; readonly count: number }
  /** The link between the leader and one follower is cut both ways, every other link kept (a partial partition). */
  | { readonly atMs: number; readonly kind: 'cut-leader-link' }
  /** Every cut link is mended. */
  | { readonly atMs: number; readonly kind: 'heal-links' };

/** What a script step needs of the simulation. */
export interface ScriptSite {
  readonly nodes: readonly SimNode<unknown>[];
  leader(): SimNode<unknown> | null;
  /** The member's process dies (its peers' transports see its connections close, as a real crash does). */
  crash(n: SimNode<unknown>): void;
  cutBoth(a: readonly string[], b: readonly string[]): void;
  healLinks(): void;
  note(line: string): void;
}

/** What a step did, for the run's observations. */
export interface ScriptEvent {
  readonly atMs: number;
  readonly kind: ScriptStep['kind'];
  /** The members it struck (empty: nothing to strike). */
  readonly members: readonly string[];
}

export function runScriptStep(site: ScriptSite, step: ScriptStep): ScriptEvent {
  const leader = site.leader();
  let members: string[] = [];
  switch (step.kind) {
    case 'crash-leader':
      if (leader !== null) {
        site.crash(leader);
        members = [leader.key];
      }
      break;
    case 'crash-members': {
      const up = site.nodes.filter((n) => n.up);
      const victims = [...(leader === null ? [] : [leader]), ...up.filter((n) => n !== leader)].slice(0, step.count);
      for (const v of victims) site.crash(v);
      members = victims.map((v) => v.key);
      break;
    }
    case 'cut-leader-link': {
      const follower = leader === null ? undefined : site.nodes.find((n) => n.up && n !== leader);
      if (leader !== null && follower !== undefined) {
        site.cutBoth([leader.key], [follower.key]);
        members = [leader.key, follower.key];
      }
      break;
    }
    case 'heal-links':
      site.healLinks();
      break;
  }
  site.note(`script ${step.kind}${members.length === 0 ? (step.kind === 'heal-links' ? '' : ': no leader') : ` ${members.join(',')}`}`);
  return { atMs: step.atMs, kind: step.kind, members };
}
