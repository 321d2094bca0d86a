import type { ScriptStep } from './script.js';
/** What a simulation run is made of; every knob has a named default. */
import { DEFAULT_PROTOCOL } from '../protocols/registry.js';

/**
 * The nemesis's fault kinds, applied the same way to every protocol (see nemesis.ts for what
 * each does). Byzantine behaviours are chosen separately (`byzantine`), since only protocols
 * that tolerate lying replicas can take them.
 */
export const FAULT_KINDS = ['partition', 'drop', 'delay', 'crash', 'power-loss', 'pause', 'skew', 'disk', 'admin'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A Byzantine behaviour every Byzantine protocol can take (besides its adversary's own): two copies of a liar. */
export const TWINS = 'twins';

/** The compaction intervals a run draws from when compactEvery is 0. */
export const SIM_COMPACT_INTERVALS = [4, 12, 40] as const;

export const STATE_MACHINES = ['register', 'etcd'] as const;
export type StateMachineKind = (typeof STATE_MACHINES)[number];

export interface SimOptions {
  readonly protocol: string;
  readonly nodes: number;
  readonly seed: number;
  readonly faults: ReadonlySet<FaultKind>;
  /** The state machine every node runs: a register map, or the etcd MVCC store the server ships. */
  readonly stateMachine: StateMachineKind;
  /** Faults happen during [0, faultWindowMs); then everything heals. */
  readonly faultWindowMs: number;
  /** After healing, a leader must be elected and every client must complete an operation within this. */
  readonly livenessBoundMs: number;
  readonly clients: number;
  readonly keys: number;
  readonly tickMs: number;
  /** Timing the protocols map to their ticks (see ProtocolDefinition.timingOptions). */
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
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
  /**
   * Nodes snapshot their state machine (and compact the log) every this many applied entries;
   * 0 draws it per run from SIM_COMPACT_INTERVALS, so that some runs compact so often that a
   * member back from a partition or a crash is sent a snapshot.
   */
  readonly compactEvery: number;
  /**
   * Whether the register workload's clients write large values often; unset, drawn per run
   * (LARGE_WRITES_RUN_SHARE of runs). Set by benchmarks that compare one workload across builds.
   */
  readonly largeWrites?: boolean;
  readonly mutant?: string;
  /** Protocol-specific options for every replica (e.g. Multi-Paxos's phase1QuorumSize); they override the run's own. */
  readonly protocolOptions?: Readonly<Record<string, unknown>>;
  /** Byzantine protocols only: how the lying replicas behave (the protocol's behaviours and `twins`), and how many lie (default f). */
  readonly byzantine?: ReadonlySet<string>;
  readonly byzantineCount?: number;
  /** Place the Byzantine replicas here instead of at random (tests). */
  readonly byzantineIds?: readonly string[];
  /** Record a readable event trace (slower). */
  readonly trace: boolean;
  /**
   * Measuring runs (`quorate compare`): keep the counts of observer.ts beside the history
   * (RunResult.observations), and sample who leads every tick.
   */
  readonly observe?: boolean;
  /** Measuring runs: the counts of observer.ts are also taken at these two times (Observations.window). */
  readonly observeWindow?: { readonly fromMs: number; readonly toMs: number };
  /** The chance that a client is a reader (default READER_CLIENT_SHARE; a measuring run fixes the mix with 0). */
  readonly readerShare?: number;
  /** Faults at fixed times (script.ts); the nemesis's are separate (`faults`). */
  readonly script?: readonly ScriptStep[];
  /**
   * False: the protocol runs with its defaults and these options only, not the variant the seed
   * draws (ProtocolDefinition.simVariant): engines compared under the same settings.
   */
  readonly variants?: boolean;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  protocol: DEFAULT_PROTOCOL,
  nodes: 5,
  seed: 1,
  faults: new Set(FAULT_KINDS),
  stateMachine: 'register',
  faultWindowMs: 8_000,
  livenessBoundMs: 6_000,
  clients: 5,
  keys: 3,
  tickMs: 10,
  electionTimeoutMs: 100,
  heartbeatIntervalMs: 20,
  latencyBaseMs: 1,
  latencyJitterMs: 4,
  syncLatencyMs: 2,
  clientTimeoutMs: 400,
  clientAttempts: 4,
  clientThinkMs: 5,
  compactEvery: 0,
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

/** `all`, `none` or a list of the behaviours `known` (a protocol's adversary's, and twins). */
export function parseByzantine(spec: string, known: readonly string[]): Set<string> {
  if (spec === 'all') return new Set(known);
  if (spec === 'none' || spec === '') return new Set();
  const out = new Set<string>();
  for (const k of spec.split(',').map((s) => s.trim())) {
    if (!known.includes(k)) throw new Error(`unknown Byzantine behaviour '${k}'; known: ${known.join(', ')}, all, none`);
    out.add(k);
  }
  return out;
}
