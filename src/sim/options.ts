/** What a simulation run is made of; every knob has a named default. */
import type { ByzantineKind } from './byzantine.js';

export const FAULT_KINDS = ['partition', 'crash', 'drop', 'skew', 'disk', 'pause'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SimOptions {
  readonly protocol: string;
  readonly nodes: number;
  readonly seed: number;
  readonly faults: ReadonlySet<FaultKind>;
  /** Faults happen during [0, faultWindowMs); then everything heals. */
  readonly faultWindowMs: number;
  /** After healing, a leader must be elected and every client must complete an operation within this. */
  readonly livenessBoundMs: number;
  readonly clients: number;
  readonly keys: number;
  readonly tickMs: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** One-way network latency: base plus uniform jitter (jitter reorders messages). */
  readonly latencyBaseMs: number;
  readonly latencyJitterMs: number;
  /** fsync latency of the model disk. */
  readonly syncLatencyMs: number;
  /** A client gives up on one attempt after this long, then retries elsewhere with the same seq. */
  readonly clientTimeoutMs: number;
  /** Attempts per operation before the client records it as unknown. */
  readonly clientAttempts: number;
  readonly clientThinkMs: number;
  /** Nodes snapshot their state machine (and compact the log) every this many applied entries. */
  readonly compactEvery: number;
  readonly mutant?: string;
  /** Protocol-specific options for every replica (e.g. Multi-Paxos's phase1QuorumSize); they override the run's own. */
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
  /** Byzantine protocols only: how the lying replicas behave, and how many lie (default f). */
  readonly byzantine?: ReadonlySet<ByzantineKind>;
  readonly byzantineCount?: number;
  /** Record a readable event trace (slower). */
  readonly trace: boolean;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  protocol: 'raft',
  nodes: 5,
  seed: 1,
  faults: new Set(FAULT_KINDS),
  faultWindowMs: 8_000,
  livenessBoundMs: 6_000,
  clients: 5,
  keys: 3,
  tickMs: 10,
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 2,
  latencyBaseMs: 1,
  latencyJitterMs: 4,
  syncLatencyMs: 2,
  clientTimeoutMs: 400,
  clientAttempts: 4,
  clientThinkMs: 5,
  compactEvery: 40,
  trace: false,
};

export function parseFaults(spec: string): Set<FaultKind> {
  if (spec === 'all') return new Set(FAULT_KINDS);
  if (spec === 'none' || spec === '') return new Set();
  const out = new Set<FaultKind>();
  for (const f of spec.split(',').map((s) => s.trim())) {
    if (!(FAULT_KINDS as readonly string[]).includes(f)) {
      throw new Error(`unknown fault '${f}'; known: ${FAULT_KINDS.join(', ')}, all, none`);
    }
    out.add(f as FaultKind);
  }
  return out;
}
