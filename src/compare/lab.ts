/**
 * The runs a comparison makes, each made once: an engine row and a claim that need the same run
 * share it. Every run is a simulator run from the report's seed; a progress line per run goes to
 * `progress` (runs take seconds each, a full report minutes).
 */
import type { ProtocolDefinition } from '../core/protocol.js';
import type { ScriptStep } from '../sim/script.js';
import type { Model } from './models.js';
import { measure, type Measured, type RunSpec } from './run.js';

/** A measuring run that failed one of the simulator's checks: a finding, listed in the report. */
export interface FailedRun {
  readonly run: string;
  readonly kind: 'safety' | 'liveness';
  readonly message: string;
}

export class Lab {
  private readonly runs = new Map<string, Measured>();
  readonly failed: FailedRun[] = [];

  constructor(
    readonly seed: number,
    /** The measured stretch of an ordinary run, ms (a quick report measures less; a slow model more, Model.windowScale). */
    readonly windowMs: number,
    private readonly progress: (line: string) => void,
  ) {}

  get runsMade(): number {
    return this.runs.size;
  }

  run(protocol: ProtocolDefinition, nodes: number, model: Model, what: {
    readonly clients?: number; readonly windowMs?: number; readonly script?: readonly ScriptStep[];
    readonly protocolOptions?: Readonly<Record<string, unknown>>; readonly label?: string;
    /** Added to the report's seed: another sample of the same run. */
    readonly seedOffset?: number;
  } = {}): Measured {
    const spec: RunSpec = {
      protocol, nodes, seed: this.seed + (what.seedOffset ?? 0), model,
      windowMs: what.windowMs ?? this.windowMs * (model.windowScale ?? 1),
      clients: what.clients ?? nodes,
      ...(what.script === undefined ? {} : { script: what.script }),
      ...(what.protocolOptions === undefined ? {} : { protocolOptions: what.protocolOptions }),
    };
    const key = JSON.stringify({ p: protocol.name, nodes, seed: spec.seed, m: model.name, w: spec.windowMs, c: spec.clients, s: spec.script ?? null, o: spec.protocolOptions ?? null });
    const known = this.runs.get(key);
    if (known !== undefined) return known;
    const t0 = performance.now();
    const m = measure(spec);
    this.runs.set(key, m);
    const outcome = m.result.outcome;
    // A run that stopped members for good past what the engine tolerates is meant not to be live.
    const meantToStop = (spec.script ?? []).some((s) => s.kind === 'crash-members');
    if (outcome.kind === 'safety' || (outcome.kind === 'liveness' && !meantToStop)) {
      this.failed.push({ run: `${protocol.name} n=${nodes} ${model.name}${what.label === undefined ? '' : ` ${what.label}`} seed ${spec.seed}`, kind: outcome.kind, message: outcome.message });
    }
    this.progress(`run ${this.runs.size}: ${protocol.name} n=${nodes} ${model.name}${what.label === undefined ? '' : ` ${what.label}`}${spec.seed === this.seed ? '' : ` seed ${spec.seed}`}: ${m.completed.length} operations, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return m;
  }
}
