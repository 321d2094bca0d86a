/**
 * One measuring run of the simulator and the figures read off it: operations completed, write
 * latencies, messages and bytes per operation, leaders seen. Fault-free unless the run's script
 * says otherwise; the protocol at its defaults (no per-seed variant), so engines compare under the
 * same settings.
 */
import type { OpKind, Operation } from '../check/history.js';
import type { ProtocolDefinition } from '../core/protocol.js';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from '../sim/options.js';
import type { ScriptStep } from '../sim/script.js';
import { Simulation, type RunResult } from '../sim/simulation.js';
import type { Model } from './models.js';

/** Operations invoked before this are the start-up's (first election), not measured. */
export const WARMUP_MS = 500;

export interface RunSpec {
  readonly protocol: ProtocolDefinition;
  readonly nodes: number;
  readonly seed: number;
  readonly model: Model;
  /** Measured stretch after the warm-up, ms. */
  readonly windowMs: number;
  /** Clients, each with one operation in flight. */
  readonly clients: number;
  readonly script?: readonly ScriptStep[];
  /** Protocol options on top of its defaults (e.g. pre-vote off). */
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
}

export interface Measured {
  readonly result: RunResult;
  /** Operations with an answer (ok or a definite failure). */
  readonly completed: readonly Operation[];
  /** Completed operations invoked within the measured stretch, per simulated second. */
  readonly opsPerSecond: number;
  /** Latencies of writes (writes and compare-and-sets) answered ok within the stretch, ms, ascending. */
  readonly writeLatenciesMs: readonly number[];
  /** Frames sent between members within the stretch, per operation invoked and completed within it. */
  readonly messagesPerOp: number;
  readonly bytesPerOp: number;
  /** The member with the most messages sent and received per completed operation. */
  readonly busiest: { readonly member: string; readonly messagesPerOp: number };
}

export function measuringOptions(spec: RunSpec): SimOptions {
  return {
    ...DEFAULT_SIM_OPTIONS,
    ...spec.model.options,
    protocol: spec.protocol.name,
    nodes: spec.nodes,
    seed: spec.seed,
    faults: new Set(),
    variants: false,
    observe: true,
    observeWindow: { fromMs: WARMUP_MS, toMs: WARMUP_MS + spec.windowMs },
    // Every client the same mix of reads and writes, at every size and under every engine.
    readerShare: 0,
    largeWrites: false,
    // Snapshots now and then, as a deployment takes them; rarely enough not to dominate.
    compactEvery: 1000,
    clients: spec.clients,
    keys: 8,
    // The fault window is the measured stretch: the simulator restarts crashed members at its end.
    faultWindowMs: WARMUP_MS + spec.windowMs,
    // Long enough for the model's timeouts (regions apart: seconds), so that the simulator's
    // liveness check after the stretch judges the engine, not these settings.
    livenessBoundMs: Math.max(2000, 2 * (spec.model.options.clientTimeoutMs ?? DEFAULT_SIM_OPTIONS.clientTimeoutMs), 4 * (spec.model.options.electionTimeoutMs ?? DEFAULT_SIM_OPTIONS.electionTimeoutMs)),
    trace: false,
    ...(spec.script === undefined ? {} : { script: spec.script }),
    ...(spec.protocolOptions === undefined ? {} : { protocolOptions: spec.protocolOptions }),
  };
}

export function measure(spec: RunSpec): Measured {
  const o = measuringOptions(spec);
  const result = new Simulation(spec.protocol, o).run();
  const obs = result.observations!;
  const end = WARMUP_MS + spec.windowMs;
  const completed = result.history.filter((op) => op.outcome !== 'unknown');
  const inWindow = completed.filter((op) => op.invokedAt >= WARMUP_MS && op.completedAt <= end);
  const writeLatenciesMs = inWindow.filter((op) => op.outcome === 'ok' && isWrite(op.kind)).map((op) => op.completedAt - op.invokedAt).sort((a, b) => a - b);
  // Messages and operations of the measured stretch only (not the first election, nor the reads
  // after it): operations invoked in it, against the frames sent in it.
  const window = obs.window;
  const ops = Math.max(1, inWindow.length);
  let busiest = { member: '', messagesPerOp: 0 };
  for (const [member, c] of Object.entries(window.messagesByMember)) {
    const perOp = (c.sent + c.received) / ops;
    if (perOp > busiest.messagesPerOp) busiest = { member, messagesPerOp: perOp };
  }
  return {
    result,
    completed,
    opsPerSecond: inWindow.length / (spec.windowMs / 1000),
    writeLatenciesMs,
    messagesPerOp: window.messagesSent / ops,
    bytesPerOp: window.bytesSent / ops,
    busiest,
  };
}

/** What the measurements count as a write: a put or a compare-and-set. */
export function isWrite(kind: OpKind): boolean {
  return kind === 'write' || kind === 'cas';
}

/** The value at quantile q (0..1) of ascending `sorted` (null when empty). */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Client-to-client write latencies, ms, of the clients that talk to the protocol directly: under a
 * protocol whose clients talk to one member, those that start at the member leading at the end
 * (the others' writes take a forwarding hop more); under one whose own clients talk to every
 * replica, those clients (the session clients beside them go through a member, as a proxy).
 */
export function directClientLatencies(m: Measured, protocol: ProtocolDefinition, kinds: (kind: OpKind) => boolean = isWrite): readonly number[] {
  const obs = m.result.observations!;
  const homes = new Map(Object.entries(obs.clientHomes).map(([id, home]) => [Number(id), home] as const));
  const leader = obs.leadersSeen[obs.leadersSeen.length - 1]?.member;
  const direct = (client: number): boolean => (protocol.client.kind === 'quorum' ? !homes.has(client) : homes.get(client) === leader);
  return m.completed.filter((op) => direct(op.client) && op.invokedAt >= WARMUP_MS && op.outcome === 'ok' && kinds(op.kind))
    .map((op) => op.completedAt - op.invokedAt).sort((a, b) => a - b);
}
