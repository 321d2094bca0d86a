/**
 * `quorate compare`: every selected engine on the same workloads, models and scripted faults, in
 * the simulator, and the book's claims measured on them (a CompareReport, which render-markdown
 * and render-html draw).
 */
import type { ProtocolDefinition } from '../core/protocol.js';
import type { BookClaim } from './book-claims.js';
import { evaluateClaims } from './claims.js';
import { engineRow, sizesOf } from './engines.js';
import { Lab } from './lab.js';
import { LAN, MICROS_PER_MESSAGE, MODELS, WAN } from './models.js';
import type { CompareReport, LatencySeries, MessagesSeries, ThroughputSeries } from './report.js';

export interface CompareOptions {
  readonly protocols: readonly ProtocolDefinition[];
  /** Cluster sizes to measure every engine at (default: f = 1, 2, 3 for each; quick: f = 1). */
  readonly nodes?: readonly number[];
  readonly quick: boolean;
  readonly seed: number;
  readonly claims: readonly BookClaim[];
  /** The command line that reproduces the report. */
  readonly command: string;
  readonly version: string;
  readonly progress: (line: string) => void;
}

/** The measured stretch of an ordinary run: a quick report measures less. */
const WINDOW_MS = { quick: 2000, full: 5000 } as const;
/** Clients (one operation in flight each) of the throughput-versus-in-flight curve. */
const IN_FLIGHT = { quick: [1, 4, 16], full: [1, 2, 4, 8, 16, 32, 64] } as const;
/** Leader crashes per engine and size (seeds apart): the failover figure is their median. */
const FAILOVER_SAMPLES = { quick: 3, full: 5 } as const;
/** The smallest size a Byzantine engine runs at (3f + 1, f = 1). */
const MIN_BYZANTINE_NODES = 4;

/** Whether an engine runs at `nodes` members (a Byzantine one needs 3f + 1 with f at least 1). */
export function fitsEngine(p: ProtocolDefinition, nodes: number): boolean {
  return p.faultModel !== 'byzantine' || nodes >= MIN_BYZANTINE_NODES;
}

export function compare(o: CompareOptions): CompareReport {
  const t0 = performance.now();
  const lab = new Lab(o.seed, o.quick ? WINDOW_MS.quick : WINDOW_MS.full, o.progress);
  const sizes = (p: ProtocolDefinition): number[] =>
    o.nodes === undefined ? sizesOf(p, o.quick) : o.nodes.filter((n) => fitsEngine(p, n));
  const engines = o.protocols.flatMap((p) => sizes(p).map((n) => engineRow(lab, p, n, o.quick ? FAILOVER_SAMPLES.quick : FAILOVER_SAMPLES.full)));
  const latency: LatencySeries[] = [];
  const messagesVsNodes: MessagesSeries[] = [];
  const throughputVsInFlight: ThroughputSeries[] = [];
  for (const p of o.protocols) {
    const ns = sizes(p);
    const smallest = ns[0];
    if (smallest === undefined) continue;
    for (const model of [LAN, WAN]) {
      const m = lab.run(p, smallest, model);
      latency.push({ label: `${p.name} n=${smallest}`, model: model.name, samplesMs: m.writeLatenciesMs });
    }
    messagesVsNodes.push({ protocol: p.name, points: engines.filter((r) => r.protocol === p.name).map((r) => ({ nodes: r.nodes, messagesPerOp: r.messagesPerOp })) });
    throughputVsInFlight.push({
      protocol: p.name, nodes: smallest,
      points: (o.quick ? IN_FLIGHT.quick : IN_FLIGHT.full).map((clients) => ({ inFlight: clients, opsPerSecond: lab.run(p, smallest, LAN, { clients }).opsPerSecond })),
    });
  }
  const claims = evaluateClaims(o.claims, { lab, protocols: o.protocols, rows: engines, quick: o.quick });
  return {
    command: o.command,
    version: o.version,
    seed: o.seed,
    quick: o.quick,
    protocols: o.protocols.map((p) => p.name),
    models: MODELS.map((m) => ({ name: m.name, description: m.description })),
    cpuModel: { microsPerMessage: MICROS_PER_MESSAGE },
    engines,
    claims,
    charts: { latency, messagesVsNodes, throughputVsInFlight },
    failedRuns: lab.failed,
    runs: lab.runsMade,
    wallSeconds: (performance.now() - t0) / 1000,
  };
}
