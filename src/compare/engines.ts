/**
 * The engine table: per protocol and cluster size, the figures of one fault-free run per model and
 * of a few scripted faults (the leader crashed, members down for good, one link of the leader cut).
 */
import type { ProtocolDefinition } from '../core/protocol.js';
import type { ScriptEvent } from '../sim/script.js';
import type { Lab } from './lab.js';
import { FIXED_DELAY, LAN, MICROS_PER_MESSAGE, WAN } from './models.js';
import type { EngineRow } from './report.js';
import { directClientLatencies, isWrite, quantile, WARMUP_MS, type Measured } from './run.js';

/** When scripted faults strike, after the warm-up (ms). */
const FAULT_AT_MS = WARMUP_MS + 1000;
/** How long a partial partition lasts (ms). */
const PARTIAL_PARTITION_MS = 2000;
/** Members down for good: the cluster counts as live if a write invoked this long after they stopped completes. */
const SETTLE_MS = 1500;

export function faultsTolerated(p: ProtocolDefinition, nodes: number): number {
  return p.faultModel === 'byzantine' ? Math.floor((nodes - 1) / 3) : Math.floor((nodes - 1) / 2);
}

/** The sizes an engine is measured at: f = 1, 2, 3 (a quick report: f = 1). */
export function sizesOf(p: ProtocolDefinition, quick: boolean): number[] {
  const fs = quick ? [1] : [1, 2, 3];
  return fs.map((f) => (p.faultModel === 'byzantine' ? 3 * f + 1 : 2 * f + 1));
}

/** With `down` members stopped for good at FAULT_AT_MS (the leader first): did a write invoked SETTLE_MS later complete? */
export function liveWithDown(lab: Lab, p: ProtocolDefinition, nodes: number, down: number): boolean {
  const windowMs = Math.max(lab.windowMs, 2 * SETTLE_MS + 1000);
  const m = lab.run(p, nodes, LAN, { script: [{ atMs: FAULT_AT_MS, kind: 'crash-members', count: down }], windowMs, label: `${down} down` });
  // Before the window ends: the simulator restarts every member then.
  return m.completed.some((op) => op.outcome === 'ok' && isWrite(op.kind) && op.invokedAt >= FAULT_AT_MS + SETTLE_MS && op.completedAt < WARMUP_MS + windowMs);
}

/** The scripted crash of a leader in run `m`, if one struck (a leader was seen then). */
function leaderCrash(m: Measured): ScriptEvent | undefined {
  return m.result.observations!.script.find((e) => e.kind === 'crash-leader' && e.members.length > 0);
}

/** Ms from the leader's crash to the first write invoked after it that completed (null: none did). */
export function failoverMs(m: Measured): number | null {
  const crash = leaderCrash(m);
  if (crash === undefined) return null;
  const after = m.completed.filter((op) => op.outcome === 'ok' && isWrite(op.kind) && op.invokedAt >= crash.atMs);
  return after.length === 0 ? null : Math.min(...after.map((op) => op.completedAt)) - crash.atMs;
}

/** Ms from the leader's crash until another member was seen leading (null: none was). */
export function newLeaderMs(m: Measured): number | null {
  const crash = leaderCrash(m);
  if (crash === undefined) return null;
  const next = m.result.observations!.leadersSeen.find((l) => l.atMs >= crash.atMs && l.member !== crash.members[0]);
  return next === undefined ? null : next.atMs - crash.atMs;
}

/** The median, a missing sample counting as the slowest; null when most are missing. */
function medianOrNull(samples: readonly (number | null)[]): number | null {
  const missing = samples.filter((x) => x === null).length;
  if (missing * 2 > samples.length) return null;
  return quantile([...samples.filter((x): x is number => x !== null), ...Array<number>(missing).fill(Number.POSITIVE_INFINITY)].sort((a, b) => a - b), 0.5);
}

/** Leaders that took over while one link of the leader was cut (and shortly after it healed). */
export function partialPartitionLeaderChanges(lab: Lab, p: ProtocolDefinition, nodes: number, protocolOptions?: Readonly<Record<string, unknown>>): number | null {
  const m = lab.run(p, nodes, LAN, {
    script: [{ atMs: FAULT_AT_MS, kind: 'cut-leader-link' }, { atMs: FAULT_AT_MS + PARTIAL_PARTITION_MS, kind: 'heal-links' }],
    windowMs: Math.max(lab.windowMs, FAULT_AT_MS + PARTIAL_PARTITION_MS),
    ...(protocolOptions === undefined ? {} : { protocolOptions }),
    label: protocolOptions === undefined ? 'partial partition' : `partial partition ${JSON.stringify(protocolOptions)}`,
  });
  const obs = m.result.observations!;
  if (obs.script[0]?.members.length !== 2) return null;
  return obs.leadersSeen.filter((l) => l.atMs > FAULT_AT_MS && l.atMs <= FAULT_AT_MS + PARTIAL_PARTITION_MS + 500).length;
}

/** Protocol delays on a write's critical path: the median of the direct clients' writes on the fixed-delay model. */
export function criticalPathDelays(lab: Lab, p: ProtocolDefinition, nodes: number): number {
  return quantile(directClientLatencies(lab.run(p, nodes, FIXED_DELAY), p), 0.5) ?? Number.NaN;
}

export function engineRow(lab: Lab, p: ProtocolDefinition, nodes: number, failoverSamples: number): EngineRow {
  const f = faultsTolerated(p, nodes);
  const lan = lab.run(p, nodes, LAN);
  const wan = lab.run(p, nodes, WAN);
  // One failover is one draw of the election timers: the median of a few runs (seeds apart).
  const crashes = Array.from({ length: failoverSamples }, (_, i) => lab.run(p, nodes, LAN, {
    script: [{ atMs: FAULT_AT_MS, kind: 'crash-leader' }], windowMs: Math.max(lab.windowMs, 3000), label: 'leader crash', seedOffset: i,
  }));
  return {
    protocol: p.name,
    faultModel: p.faultModel,
    nodes,
    f,
    liveWithFDown: liveWithDown(lab, p, nodes, f),
    liveWithFPlus1Down: liveWithDown(lab, p, nodes, f + 1),
    messagesPerOp: lan.messagesPerOp,
    bytesPerOp: lan.bytesPerOp,
    criticalPathDelays: criticalPathDelays(lab, p, nodes),
    lanP50Ms: quantile(lan.writeLatenciesMs, 0.5) ?? Number.NaN,
    lanP99Ms: quantile(lan.writeLatenciesMs, 0.99) ?? Number.NaN,
    wanP50Ms: quantile(wan.writeLatenciesMs, 0.5) ?? Number.NaN,
    wanP99Ms: quantile(wan.writeLatenciesMs, 0.99) ?? Number.NaN,
    modelThroughput: lan.busiest.messagesPerOp === 0 ? 0 : 1e6 / (lan.busiest.messagesPerOp * MICROS_PER_MESSAGE),
    busiestMember: lan.busiest,
    failoverMs: medianOrNull(crashes.map(failoverMs)),
    newLeaderMs: medianOrNull(crashes.map(newLeaderMs)),
    partialPartitionLeaderChanges: partialPartitionLeaderChanges(lab, p, nodes),
  };
}
