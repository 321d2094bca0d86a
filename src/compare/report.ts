/**
 * What `quorate compare` measured: the data both renderers (Markdown, HTML) draw from. Every
 * figure here comes from a simulator run (or is derived from one by a stated model); the claims'
 * rows say which run.
 */

/** A network and disk model the measurements ran under. */
export interface ModelInfo {
  readonly name: string;
  /** One line: one-way delay and jitter, fsync latency. */
  readonly description: string;
}

/** One engine at one cluster size. */
export interface EngineRow {
  readonly protocol: string;
  readonly faultModel: 'crash' | 'byzantine';
  readonly nodes: number;
  /** Faults the engine is built to tolerate at this size (crash: floor((n-1)/2); Byzantine: floor((n-1)/3)). */
  readonly f: number;
  /** Members down for good with which writes still completed (measured; null: not run). */
  readonly liveWithFDown: boolean | null;
  /** Whether writes still completed with f+1 members down for good (measured: a minority left). */
  readonly liveWithFPlus1Down: boolean | null;
  /** Messages between members per completed client operation, fault-free, LAN model. */
  readonly messagesPerOp: number;
  /** Their bytes (encoded frames) per completed client operation. */
  readonly bytesPerOp: number;
  /**
   * One-way message delays on a client write's critical path, client to client, measured on the
   * fixed-delay model (median write latency / one-way delay); the protocol's round trips = (delays - 2) / 2.
   */
  readonly criticalPathDelays: number;
  readonly lanP50Ms: number;
  readonly lanP99Ms: number;
  readonly wanP50Ms: number;
  readonly wanP99Ms: number;
  /** Completed operations per second under the per-message CPU cost model (see CompareReport.cpuModel). */
  readonly modelThroughput: number;
  /** The member that handles the most messages per operation (the model's bottleneck), and how many. */
  readonly busiestMember: { readonly member: string; readonly messagesPerOp: number };
  /**
   * Leader (or primary) crashed: ms until a write invoked after the crash completed, the median of
   * a few runs seeds apart (null: in most of them none did, or no leader was seen).
   */
  readonly failoverMs: number | null;
  /** The same crashes: ms until another member was seen leading (the protocol's part of failover), median (null: none was). */
  readonly newLeaderMs: number | null;
  /** Partial partition (one link between the leader and one follower cut both ways): leader changes while it lasted. */
  readonly partialPartitionLeaderChanges: number | null;
}

/** One claim of ../shared/book-claims.md, measured. */
export interface ClaimRow {
  readonly id: number;
  readonly topic: string;
  readonly claim: string;
  /** The book's figure, in short. */
  readonly bookFigure: string;
  /** What quorate's engines gave, in short ('—' when not measured). */
  readonly measured: string;
  readonly verdict: 'holds' | 'differs' | 'not measured';
  /** Why the verdict: the runs behind it, or why it cannot be measured yet. */
  readonly why: string;
}

/** Client write latencies of one engine at one size under one model (for a distribution chart). */
export interface LatencySeries {
  readonly label: string;
  readonly model: string;
  /** Sorted ascending, ms. */
  readonly samplesMs: readonly number[];
}

export interface MessagesSeries {
  readonly protocol: string;
  readonly points: readonly { readonly nodes: number; readonly messagesPerOp: number }[];
}

export interface ThroughputSeries {
  readonly protocol: string;
  readonly nodes: number;
  /** Simulated operations per simulated second at each number of clients (one operation in flight each). */
  readonly points: readonly { readonly inFlight: number; readonly opsPerSecond: number }[];
}

export interface CompareReport {
  /** The command line that reproduces this report. */
  readonly command: string;
  readonly version: string;
  readonly seed: number;
  readonly quick: boolean;
  readonly protocols: readonly string[];
  readonly models: readonly ModelInfo[];
  /** The per-message CPU cost the model throughput assumes, µs per message sent or received. */
  readonly cpuModel: { readonly microsPerMessage: number };
  readonly engines: readonly EngineRow[];
  readonly claims: readonly ClaimRow[];
  readonly charts: {
    readonly latency: readonly LatencySeries[];
    readonly messagesVsNodes: readonly MessagesSeries[];
    readonly throughputVsInFlight: readonly ThroughputSeries[];
  };
  /**
   * Measuring runs that failed a check of the simulator (safety, or liveness where the script did
   * not stop members for good): findings about an engine, not about the report.
   */
  readonly failedRuns: readonly { readonly run: string; readonly kind: 'safety' | 'liveness'; readonly message: string }[];
  /** Simulated runs made for this report, and the wall time they took. */
  readonly runs: number;
  readonly wallSeconds: number;
}
