/**
 * What a sweep of `quorate sim` shares with `quorate sim merge`: the slice of the seed range a
 * shard runs, the progress line, the summary it prints, and combining the --json output of
 * shards run apart (a CI matrix, a Kubernetes indexed Job, a Slurm array) into one verdict.
 */
import type { Summary } from '../../sim/run.js';
import type { SeedList } from '../../sim/seed-pool.js';
import { UsageError } from '../command.js';

/** Shards at most: a million seeds over a million machines is already one seed each. */
export const MAX_SHARDS = 1_000_000;
/** Failed runs a summary lists (each with its reproduce command); the rest are counted. */
export const LISTED_FAILURES = 20;

/** `--shard I/N`: the I-th (from 1) of N slices. */
export function parseShard(spec: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  if (m === null) throw new UsageError(`--shard '${spec}' is not I/N (e.g. 2/8: the second of eight slices)`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) throw new UsageError(`--shard ${spec}: N is from 1 to ${MAX_SHARDS}`);
  if (index < 1 || index > count) throw new UsageError(`--shard ${spec}: I is from 1 to N (${count})`);
  return { index, count };
}

/**
 * The seeds of shard `index` of `count` in from..to: every count-th seed, starting at the
 * index-th. Interleaved rather than in blocks, so that a stretch of slow seeds is spread over the
 * shards; the shards together run each seed of the range once.
 */
export function shardSeeds(from: number, to: number, index: number, count: number): SeedList {
  const first = from + index - 1;
  return { first, step: count, count: first > to ? 0 : Math.floor((to - first) / count) + 1 };
}

/** The progress line: seeds done, failures, seeds per second and the time left. */
export function progressText(done: number, total: number, failures: number, elapsedS: number): string {
  const rate = elapsedS > 0 ? done / elapsedS : 0;
  const left = rate > 0 ? (total - done) / rate : Infinity;
  return `${done}/${total} seeds, ${failures} failures, ${rate.toFixed(rate < 10 ? 2 : 1)} seeds/s, ${done === total ? 'done' : `${duration(left)} left`}`;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** The summary's counts as rows, after the rows that say what ran. */
export function summaryRows(head: readonly [string, string][], s: Summary, wallS: number): [string, string][] {
  return [
    ...head,
    ['runs', String(s.runs)],
    ['safety violations', String(s.safetyViolations)],
    ['liveness failures', String(s.livenessFailures)],
    ['non-linearizable histories', String(s.nonLinearizable)],
    ['unknown verdicts', String(s.unknownVerdicts)],
    ['operations', String(s.operations)],
    ['messages delivered', String(s.messages)],
    ['simulated time', `${(s.simulatedMs / 1000).toFixed(1)} s`],
    ['wall time', `${wallS.toFixed(1)} s`],
  ];
}

/** A sweep's exit code: a failed run, else a history the checker could not judge (not a pass), else 0. */
export function sweepExitCode(s: Summary): number {
  return s.failures.length > 0 ? 1 : s.unknownVerdicts > 0 ? 2 : 0;
}

/** Print the rows, the failures (with `reproduce`) and what the exit code means. */
export function printSummary(rows: readonly [string, string][], s: Summary, reproduce: (seed: number) => string): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  for (const f of s.failures.slice(0, LISTED_FAILURES)) console.log(`FAIL seed ${f.seed}: ${f.what}\n  reproduce: ${reproduce(f.seed)}`);
  if (s.failures.length > LISTED_FAILURES) console.log(`... and ${s.failures.length - LISTED_FAILURES} more failed runs (--json lists each)`);
  if (sweepExitCode(s) === 2) console.log(`UNDECIDED: ${s.unknownVerdicts} histories could not be judged within the checker's budget`);
}

// ---- merge -----------------------------------------------------------------------------------------

/** One --json output file of `quorate sim`: its name (for messages) and text. */
export interface SweepOutput {
  readonly name: string;
  readonly text: string;
}

export interface MergedSweep {
  /** The sweep's command (options without seeds, shard and jobs): the same in every file. */
  readonly command: string;
  readonly seeds: string;
  readonly protocol: string;
  readonly nodes: number;
  readonly summary: Summary;
  /** Wall time of the slowest shard: what the sweep took when the shards ran at once. */
  readonly wallSeconds: number;
  /** Shards in the sweep, and those no file gives a summary of ("I/N"). */
  readonly shards: number;
  readonly missingShards: readonly string[];
  /** Files that end before their summary line: a shard stopped or still running (its shard is missing). */
  readonly cutShort: readonly string[];
}

interface SummaryRecord {
  readonly command: string;
  readonly seeds: string;
  readonly shard: string | null;
  readonly protocol: string;
  readonly nodes: number;
  readonly runs: number;
  readonly safetyViolations: number;
  readonly livenessFailures: number;
  readonly nonLinearizable: number;
  readonly unknownVerdicts: number;
  readonly operations: number;
  readonly messages: number;
  readonly simulatedMs: number;
  readonly wallSeconds: number;
}

const SUMMARY_NUMBERS = ['nodes', 'runs', 'safetyViolations', 'livenessFailures', 'nonLinearizable', 'unknownVerdicts', 'operations', 'messages', 'simulatedMs', 'wallSeconds'] as const;

/**
 * Combine the --json outputs of the shards of one sweep. Bad input (not sweep output, two
 * sweeps mixed, a shard or a seed twice) throws UsageError; a shard whose output is missing or
 * ends before its summary is reported in missingShards, not guessed at.
 */
export function mergeSweeps(outputs: readonly SweepOutput[]): MergedSweep {
  if (outputs.length === 0) throw new UsageError('no sweep outputs given (quorate sim merge FILE...: the --json output of each shard)');
  const summaries: { name: string; s: SummaryRecord }[] = [];
  const seedsSeen = new Map<number, string>();
  const failures: { seed: number; what: string }[] = [];
  const cutShort: string[] = [];
  for (const { name, text } of outputs) {
    let summary: SummaryRecord | null = null;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      const where = `${name}:${i + 1}`;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new UsageError(`${where} is not a JSON line (give the --json output of quorate sim)`);
      }
      if (record === null || typeof record !== 'object') throw new UsageError(`${where} is not a JSON object`);
      if (summary !== null) throw new UsageError(`${where}: a line after the summary (two outputs in one file?)`);
      if (record['type'] === 'seed') {
        const seed = record['seed'];
        if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new UsageError(`${where}: a seed record without a seed`);
        const before = seedsSeen.get(seed);
        if (before !== undefined) throw new UsageError(`seed ${seed} is in ${before} and ${where}: the same shard twice, or overlapping sweeps`);
        seedsSeen.set(seed, where);
        if (record['ok'] === false) failures.push({ seed, what: typeof record['failure'] === 'string' ? record['failure'] : 'failed' });
      } else if (record['type'] === 'summary') {
        summary = summaryRecord(record, where);
      }
      // 'failure' lines repeat what the seed lines say (the first 20 only): the seed lines are used.
    }
    if (summary === null) cutShort.push(name);
    else summaries.push({ name, s: summary });
  }
  if (summaries.length === 0) throw new UsageError(`no summary line in ${outputs.map((o) => o.name).join(', ')}: no shard finished (or these are not --json outputs of quorate sim)`);
  const first = summaries[0]!;
  for (const { name, s } of summaries) {
    if (s.command !== first.s.command || s.seeds !== first.s.seeds) {
      throw new UsageError(`${name} is another sweep than ${first.name}: "${s.command} --seeds ${s.seeds}" against "${first.s.command} --seeds ${first.s.seeds}"`);
    }
  }
  const shardCount = first.s.shard === null ? 1 : Number(first.s.shard.split('/')[1]);
  const present = new Map<number, string>();
  for (const { name, s } of summaries) {
    const [i, n] = s.shard === null ? [1, 1] : s.shard.split('/').map(Number) as [number, number];
    if (n !== shardCount) throw new UsageError(`${name} is shard ${s.shard ?? 'none'} and ${first.name} ${first.s.shard ?? 'none'}: one sweep has one shard count`);
    const other = present.get(i);
    if (other !== undefined) throw new UsageError(`shard ${i}/${n} is in ${other} and ${name}`);
    present.set(i, name);
  }
  const missingShards: string[] = [];
  for (let i = 1; i <= shardCount; i++) if (!present.has(i)) missingShards.push(`${i}/${shardCount}`);
  const total = (k: (typeof SUMMARY_NUMBERS)[number]): number => summaries.reduce((sum, { s }) => sum + s[k], 0);
  failures.sort((a, b) => a.seed - b.seed);
  return {
    command: first.s.command,
    seeds: first.s.seeds,
    protocol: first.s.protocol,
    nodes: first.s.nodes,
    summary: {
      runs: total('runs'), safetyViolations: total('safetyViolations'), livenessFailures: total('livenessFailures'),
      nonLinearizable: total('nonLinearizable'), unknownVerdicts: total('unknownVerdicts'), operations: total('operations'),
      messages: total('messages'), simulatedMs: total('simulatedMs'), failures,
    },
    wallSeconds: Math.max(...summaries.map(({ s }) => s.wallSeconds)),
    shards: shardCount,
    missingShards,
    cutShort,
  };
}

function summaryRecord(r: Record<string, unknown>, where: string): SummaryRecord {
  for (const k of SUMMARY_NUMBERS) {
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) throw new UsageError(`${where}: the summary's ${k} is not a number`);
  }
  if (typeof r['command'] !== 'string' || typeof r['seeds'] !== 'string' || typeof r['protocol'] !== 'string') {
    throw new UsageError(`${where}: the summary names no command and seeds (made by a quorate older than merge?)`);
  }
  const shard = r['shard'];
  if (shard !== null && (typeof shard !== 'string' || !/^\d+\/\d+$/.test(shard))) throw new UsageError(`${where}: the summary's shard is not I/N`);
  return r as unknown as SummaryRecord;
}
