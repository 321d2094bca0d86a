/** Run one seed or a range of seeds, check each history, and summarise. */
import { checkHistory } from '../check/linearizability.js';
import type { Verdict } from '../check/history.js';
import { protocolByName } from '../protocols/registry.js';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from './options.js';
import { Simulation, type RunResult } from './simulation.js';

/** Search steps per history for the end-of-run linearizability check. */
export const SIM_CHECK_MAX_STEPS = 2_000_000;

export interface SeedReport extends RunResult {
  readonly linearizability: Verdict;
  readonly checkMessage: string;
}

export function runSeed(options: Partial<SimOptions> & { seed: number }): SeedReport {
  const o: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...options };
  const result = new Simulation(protocolByName(o.protocol), o).run();
  const check = checkHistory(result.history, 'kv', { maxSteps: SIM_CHECK_MAX_STEPS });
  const checkMessage = check.verdict === 'not-linearizable' ? `key ${check.key ?? ''}: ${check.window?.length ?? 0} operations cannot be linearized` : '';
  return { ...result, linearizability: check.verdict, checkMessage };
}

/** What judging and summing a run need of its report (a worker sends no history). */
export type SeedVerdict = Pick<SeedReport, 'outcome' | 'linearizability' | 'checkMessage' | 'stats'>;

/** A run failed if it violated safety or liveness, or its history is not linearizable. */
export function failed(r: SeedVerdict): boolean {
  return r.outcome.kind !== 'ok' || r.linearizability === 'not-linearizable';
}

export interface Summary {
  runs: number;
  safetyViolations: number;
  livenessFailures: number;
  nonLinearizable: number;
  unknownVerdicts: number;
  operations: number;
  messages: number;
  simulatedMs: number;
  failures: { seed: number; what: string }[];
}

export function emptySummary(): Summary {
  return { runs: 0, safetyViolations: 0, livenessFailures: 0, nonLinearizable: 0, unknownVerdicts: 0, operations: 0, messages: 0, simulatedMs: 0, failures: [] };
}

export function addToSummary(s: Summary, r: SeedVerdict): void {
  s.runs++;
  s.operations += r.stats.operations;
  s.messages += r.stats.messagesDelivered;
  s.simulatedMs += r.stats.simulatedMs;
  if (r.outcome.kind === 'safety') {
    s.safetyViolations++;
    s.failures.push({ seed: r.stats.seed, what: `safety: ${r.outcome.message} (at ${r.outcome.atMs.toFixed(1)} ms)` });
  } else if (r.outcome.kind === 'liveness') {
    s.livenessFailures++;
    s.failures.push({ seed: r.stats.seed, what: `liveness: ${r.outcome.message}` });
  }
  if (r.linearizability === 'not-linearizable') {
    s.nonLinearizable++;
    s.failures.push({ seed: r.stats.seed, what: `not linearizable: ${r.checkMessage}` });
  } else if (r.linearizability === 'unknown') {
    s.unknownVerdicts++;
  }
}
