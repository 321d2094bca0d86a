/**
 * `quorate sim`: run the deterministic simulator over a range of seeds and print a summary.
 * Any failure prints its seed and the command that reproduces it with a trace.
 */
import { protocolByName } from '../../protocols/registry.js';
import type { ProtocolDefinition } from '../../core/protocol.js';
import type { MutantInfo } from '../../core/replica.js';
import { DEFAULT_SIM_OPTIONS, FAULT_KINDS, parseByzantine, parseFaults, STATE_MACHINES, TWINS, type SimOptions, type StateMachineKind } from '../../sim/options.js';
import { FAULTS } from '../../sim/nemesis.js';
import { addToSummary, emptySummary, failed } from '../../sim/run.js';
import { defaultSimJobs, MAX_SIM_JOBS, runSeeds, type SeedList } from '../../sim/seed-pool.js';
import { LISTED_FAILURES, mergeSweeps, parseShard, printSummary, progressText, shardSeeds, summaryRows, sweepExitCode } from './sim-sweep.js';
import { readFileSync } from 'node:fs';
import { DRIVER_MUTANTS } from '../../driver/mutants.js';
import { STATE_MACHINE_MUTANTS } from '../../statemachine/mutants.js';
import { STORAGE_MUTANTS } from '../../storage/mutants.js';
import { TRANSPORT_MUTANTS } from '../../transport/mutants.js';
import { QuorateError } from '../../core/errors.js';
import { defineCommand, UsageError, type JsonRecord } from '../command.js';
import { didYouMean } from '../options/suggest.js';
import type { Options } from '../options/types.js';
import { protocolOption } from './shared-options.js';

/** Every mutant a run of `protocol` can switch on: the protocol's own and the shared driver's. */
export function mutantsOf(protocol: ProtocolDefinition): readonly MutantInfo[] {
  return [...protocol.mutants, ...DRIVER_MUTANTS, ...STORAGE_MUTANTS, ...STATE_MACHINE_MUTANTS, ...TRANSPORT_MUTANTS];
}

/** The Byzantine behaviours a protocol can take: its adversary's and twins. */
export function byzantineBehaviours(protocol: ProtocolDefinition): { name: string; description: string }[] {
  if (protocol.faultModel !== 'byzantine') return [];
  return [
    ...(protocol.adversary?.behaviours ?? []),
    { name: TWINS, description: 'two copies of each liar with the same keys, placed on different sides of partitions (Bano et al., "Twins")' },
  ];
}

/**
 * The largest seed: the simulator's random generator keeps 32 bits of its seed, so a larger one
 * would silently replay a smaller one (and past 2^53 the seed loop could never end).
 */
export const MAX_SEED = 2 ** 32 - 1;

/** `--seeds N` or `--seeds FROM..TO`, both ends at most MAX_SEED. */
export function parseSeeds(spec: string): [number, number] {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(spec);
  if (m === null) throw new UsageError(`--seeds '${spec}' is not N or FROM..TO`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (to > MAX_SEED || from > MAX_SEED) throw new UsageError(`--seeds ${spec}: seeds go up to ${MAX_SEED} (the simulator's random generator keeps 32 bits)`);
  if (to < from) throw new UsageError(`--seeds ${spec}: the range is empty`);
  return [from, to];
}

/** `NAME=VALUE` pairs; values that look like numbers or booleans become them. */
export function parseProtocolOptions(pairs: readonly string[], known: readonly string[], protocol: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(p);
    if (m === null) throw new UsageError(`--protocol-option '${p}' is not NAME=VALUE`);
    if (!known.includes(m[1]!)) throw new UsageError(`--protocol-option: ${protocol} has no option '${m[1]!}'; known: ${known.join(', ')}`);
    const v = m[2]!;
    out[m[1]!] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

/**
 * The most simulated members, and clients: far beyond any real cluster, so a larger number is a
 * typo (a stray digit) rather than an experiment, and would only exhaust memory or patience.
 */
const MAX_SIM_NODES = 1_000;
const MAX_SIM_CLIENTS = 1_000;

const DEFAULT_DURATION_MS = DEFAULT_SIM_OPTIONS.faultWindowMs + DEFAULT_SIM_OPTIONS.livenessBoundMs;

const OPTIONS = {
  protocol: protocolOption('the protocol to simulate'),
  nodes: { type: 'integer', min: 1, max: MAX_SIM_NODES, default: DEFAULT_SIM_OPTIONS.nodes, help: 'members in the simulated cluster.' },
  seeds: { type: 'string', default: '1..100', placeholder: 'N|FROM..TO', help: 'the seeds to run, one run each.' },
  faults: { type: 'string', default: 'all', placeholder: 'all|none|KIND,...', suggestions: ['all', 'none', ...FAULT_KINDS], help: `the nemesis's faults: all, none, or some of ${FAULT_KINDS.join(', ')}.` },
  'state-machine': { type: 'string', default: DEFAULT_SIM_OPTIONS.stateMachine, choices: STATE_MACHINES, help: 'the replicated state machine.' },
  mutant: { type: 'string', placeholder: 'NAME', help: 'switch on a deliberate bug (see --list-mutants): the run should catch it.' },
  clients: { type: 'integer', min: 1, max: MAX_SIM_CLIENTS, default: DEFAULT_SIM_OPTIONS.clients, help: 'simulated clients.' },
  keys: { type: 'integer', min: 1, default: DEFAULT_SIM_OPTIONS.keys, help: 'keys the clients use.' },
  'duration-ms': { type: 'integer', min: 1, default: DEFAULT_DURATION_MS, placeholder: 'MS', help: 'simulated time per run, faults then a fault-free stretch for liveness.' },
  shard: { type: 'string', placeholder: 'I/N', help: 'run only the I-th (from 1) of N interleaved slices of --seeds: one sweep over several machines; `quorate sim merge` combines their --json outputs.' },
  jobs: { type: 'integer', min: 1, max: MAX_SIM_JOBS, placeholder: 'N', defaultText: 'the cores', help: 'run seeds on N worker threads at once; output and exit code are those of one (seed order kept). --trace runs one.' },
  trace: { type: 'boolean', help: 'print every event of every run (with one seed: to reproduce a failure).' },
  json: { type: 'boolean', help: 'one JSON object per line instead of text (fields in docs/cli.md).' },
  'protocol-option': { type: 'string', multiple: true, placeholder: 'NAME=VALUE', help: 'a protocol option, e.g. phase1QuorumSize=4 (numbers and true/false as such).' },
  byzantine: { type: 'string', placeholder: 'all|none|BEHAVIOUR,...', help: 'Byzantine protocols: the liars\' behaviours (default all; see --list-faults).' },
  'byzantine-count': { type: 'integer', min: 0, placeholder: 'K', defaultText: 'f', help: 'Byzantine protocols: how many members lie.' },
  'list-mutants': { type: 'boolean', help: 'list the protocol\'s mutants and the shared ones, then exit.' },
  'list-faults': { type: 'boolean', help: 'list the nemesis\'s faults and the protocol\'s Byzantine behaviours, then exit.' },
} as const satisfies Options;

/** What --json prints; the field names are a promise to scripts, so change them only by adding. */
const JSON_RECORDS: readonly JsonRecord[] = [
  { type: 'mutant', help: 'with --list-mutants, one per mutant', fields: [
    ['type', '"mutant"'], ['name', 'the mutant\'s name, for --mutant'], ['description', 'the bug it switches on'],
  ] },
  { type: 'fault', help: 'with --list-faults, one per nemesis fault', fields: [
    ['type', '"fault"'], ['name', 'the fault\'s name, for --faults'], ['description', 'what it does'],
  ] },
  { type: 'byzantine', help: 'with --list-faults and a Byzantine protocol, one per behaviour, after the faults', fields: [
    ['type', '"byzantine"'], ['name', 'the behaviour\'s name, for --byzantine'], ['description', 'what the liars do'],
  ] },
  { type: 'seed', help: 'one per run, as it ends', fields: [
    ['type', '"seed"'], ['seed', 'the run\'s seed'], ['ok', 'true unless the run failed'],
    ['outcome', '"ok", "safety" or "liveness"'], ['linearizability', '"linearizable", "not-linearizable" or "unknown"'],
    ['traceHash', 'hash of the event trace: equal for equal seeds and options'], ['events', 'simulated events'],
    ['operations', 'client operations'], ['failure', 'what failed, or null'],
  ] },
  { type: 'failure', help: 'one per failed run (the first 20), after the runs', fields: [
    ['type', '"failure"'], ['seed', 'the failed run\'s seed'], ['what', 'what failed'], ['reproduce', 'the command that replays it with a trace'],
  ] },
  { type: 'summary', help: 'the last line', fields: [
    ['type', '"summary"'], ['protocol', 'the protocol'], ['nodes', 'members'], ['runs', 'runs made'],
    ['safetyViolations', 'runs that broke safety'], ['livenessFailures', 'runs that stopped making progress'],
    ['nonLinearizable', 'runs whose history is not linearizable'], ['unknownVerdicts', 'histories the checker could not judge in its budget'],
    ['operations', 'client operations, all runs'], ['messages', 'messages delivered, all runs'],
    ['simulatedMs', 'simulated time, all runs'], ['wallSeconds', 'real time taken'], ['exitCode', 'the exit code the command ends with'],
    ['command', 'the sweep without --seeds, --shard and --jobs: a failure\'s reproduce command starts with it'], ['seeds', 'the --seeds range'],
    ['shard', 'the --shard I/N, or null'],
  ] },
  { type: 'merged', help: 'quorate sim merge: the last line (after a failure line per failed run, the first 20)', fields: [
    ['type', '"merged"'], ['protocol', 'the protocol'], ['nodes', 'members'], ['runs', 'runs made, all shards'],
    ['safetyViolations', 'as in the summary, all shards'], ['livenessFailures', 'as in the summary'], ['nonLinearizable', 'as in the summary'],
    ['unknownVerdicts', 'as in the summary'], ['operations', 'as in the summary'], ['messages', 'as in the summary'], ['simulatedMs', 'as in the summary'],
    ['wallSeconds', 'the slowest shard\'s real time'], ['exitCode', 'the exit code merge ends with'], ['command', 'the sweep\'s command'], ['seeds', 'the --seeds range'],
    ['shards', 'shards in the sweep'], ['missingShards', 'shards (I/N) no file gave a summary of'], ['cutShort', 'files that end before their summary'],
  ] },
];

export const simCommand = defineCommand({
  name: 'sim',
  summary: 'simulate a protocol under faults over many seeds; check safety, liveness, linearizability',
  usage: ['[options]', '--list-mutants [--protocol NAME]', '--list-faults [--protocol NAME]', 'merge [--json] FILE...'],
  description: 'Runs the deterministic simulator once per seed and prints a summary. A failed run prints its seed and the command that replays it with a trace.',
  options: OPTIONS,
  positionals: { words: ['merge'] },
  exitCodes: [
    [0, 'every run was safe, live and linearizable'],
    [1, 'a run failed (with --mutant: the mutant was caught)'],
    [2, 'no run failed, but the checker could not judge some history within its budget'],
    [3, 'bad input (an unknown option, a bad value, a configuration the protocol refuses)'],
    [4, 'merge: no run failed, but a shard\'s output is missing or cut short'],
  ],
  json: JSON_RECORDS,
  async run({ values, positionals, given }) {
    if (positionals.length > 0) {
      if (positionals[0] !== 'merge') throw new UsageError(`unexpected argument '${positionals[0]}' (quorate sim merge FILE... combines sweep outputs)`);
      const extra = [...given].filter((o) => o !== 'json');
      if (extra.length > 0) throw new UsageError(`quorate sim merge takes --json only (the sweep's options are in its outputs), not --${extra[0]}`);
      return mergeCommand(positionals.slice(1), values.json === true);
    }
    const protocol = protocolByName(values.protocol);
    const mutants = mutantsOf(protocol);
    // A listing is text lines, or with --json one object per line like every other output.
    const list = (type: string, name: string, description: string, text: string): void => {
      console.log(values.json ? JSON.stringify({ type, name, description }) : text);
    };
    if (values['list-mutants']) {
      for (const m of mutants) list('mutant', m.name, m.description, `${m.name}  ${m.description}`);
      return 0;
    }
    const behaviours = byzantineBehaviours(protocol);
    if (values['list-faults']) {
      for (const k of FAULT_KINDS) list('fault', k, FAULTS[k].description, `${k}  ${FAULTS[k].description}`);
      for (const b of behaviours) list('byzantine', b.name, b.description, `byzantine ${b.name}  ${b.description}`);
      return 0;
    }
    if (values.json && values.trace) throw new UsageError('--trace and --json do not mix: a trace is text');
    if (values.mutant !== undefined && !mutants.some((m) => m.name === values.mutant)) {
      throw new UsageError(`unknown mutant '${values.mutant}' for ${values.protocol}${didYouMean(values.mutant, mutants.map((m) => m.name), '') || '; see --list-mutants'}`);
    }
    let faults;
    try {
      faults = parseFaults(values.faults);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    // A fault the protocol cannot take is refused, never ignored.
    if (protocol.faultModel !== 'byzantine' && (values.byzantine ?? 'none') !== 'none') {
      throw new UsageError(`--byzantine needs a Byzantine-fault-tolerant protocol; ${values.protocol} tolerates crashes only`);
    }
    if (protocol.faultModel !== 'byzantine' && values['byzantine-count'] !== undefined) throw new UsageError(`--byzantine-count needs a Byzantine-fault-tolerant protocol; ${values.protocol} tolerates crashes only`);
    let byzantine;
    try {
      byzantine = parseByzantine(values.byzantine ?? (protocol.faultModel === 'byzantine' ? 'all' : 'none'), behaviours.map((b) => b.name));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const [from, to] = parseSeeds(values.seeds);
    const durationMs = values['duration-ms'];
    const base: Partial<SimOptions> = {
      protocol: values.protocol,
      nodes: values.nodes,
      clients: values.clients,
      keys: values.keys,
      faults,
      stateMachine: values['state-machine'] as StateMachineKind,
      faultWindowMs: Math.max(0, durationMs - DEFAULT_SIM_OPTIONS.livenessBoundMs),
      livenessBoundMs: Math.min(durationMs, DEFAULT_SIM_OPTIONS.livenessBoundMs),
      trace: values.trace,
      ...(values.mutant === undefined ? {} : { mutant: values.mutant }),
      ...(values['protocol-option'].length === 0 ? {} : { protocolOptions: parseProtocolOptions(values['protocol-option'], protocol.optionNames, values.protocol) }),
      ...(protocol.faultModel === 'byzantine' ? { byzantine } : {}),
      ...(values['byzantine-count'] === undefined ? {} : { byzantineCount: values['byzantine-count'] }),
    };
    if (protocol.faultModel === 'byzantine') {
      const f = Math.floor((base.nodes! - 1) / 3);
      // Beyond f the protocol promises nothing: a failure there shows the bound, not a bug.
      if (base.byzantineCount !== undefined && base.byzantineCount > f) {
        process.stderr.write(`warning: --byzantine-count ${base.byzantineCount} exceeds f = ${f} for ${base.nodes} replicas: the protocol guarantees nothing, failures show the bound\n`);
      }
      if (byzantine.size === 0 && (base.byzantineCount ?? 0) > 0) throw new UsageError('--byzantine-count needs --byzantine behaviours to give the liars (it is "none")');
      if (f === 0) process.stderr.write(`warning: ${base.nodes} replicas tolerate f = 0 Byzantine replicas: the run has no liars (use --nodes 4 or more)\n`);
    }
    const seeds = values.shard === undefined ? { first: from, step: 1, count: to - from + 1 } : shardOf(from, to, values.shard);
    const summary = emptySummary();
    const started = performance.now();
    const tty = process.stderr.isTTY === true;
    const total = seeds.count;
    // A trace is one run's story, printed as it is made: one thread.
    const jobs = values.trace ? 1 : values.jobs ?? defaultSimJobs();
    const runs = runSeeds(base, seeds, jobs);
    let done = 0;
    for (;;) {
      let next;
      try {
        next = await runs.next();
      } catch (err) {
        // A configuration the protocol refuses (e.g. quorums that do not intersect) is bad input.
        if (err instanceof QuorateError && err.code === 'INVALID_ARGUMENT') throw new UsageError(err.message);
        throw err;
      }
      if (next.done === true) break;
      const { seed, result: r } = next.value;
      const failuresBefore = summary.failures.length;
      addToSummary(summary, r);
      if (values.json) {
        const failure = summary.failures.slice(failuresBefore).map((f) => f.what).join('; ');
        console.log(JSON.stringify({
          type: 'seed', seed, ok: !failed(r), outcome: r.outcome.kind, linearizability: r.linearizability,
          traceHash: r.traceHash, events: r.stats.events, operations: r.stats.operations, failure: failure === '' ? null : failure,
        }));
      } else {
        if (values.trace) for (const line of r.trace) console.log(line);
        if (values.trace || total === 1) console.log(`seed ${seed}: trace hash ${r.traceHash}, ${r.stats.events} events`);
      }
      done++;
      const progress = progressText(done, total, summary.failures.length, (performance.now() - started) / 1000);
      if (tty) {
        const width = 30;
        const filled = Math.round((done / total) * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progress}\x1b[K`);
      } else if (done % 100 === 0 || done === total) {
        process.stderr.write(`${progress}\n`);
      }
      if (failed(r) && values.mutant !== undefined) {
        await runs.return(undefined); // caught: one seed is enough (stops the workers)
        break;
      }
    }
    if (tty) process.stderr.write('\n');
    const wallS = (performance.now() - started) / 1000;
    const exitCode = sweepExitCode(summary);
    const command = sweepCommand(values, base, protocol);
    const reproduce = (seed: number): string => `${command} --seeds ${seed} --trace`;
    if (values.json) {
      for (const f of summary.failures.slice(0, LISTED_FAILURES)) console.log(JSON.stringify({ type: 'failure', seed: f.seed, what: f.what, reproduce: reproduce(f.seed) }));
      console.log(JSON.stringify({
        type: 'summary', protocol: values.protocol, nodes: base.nodes, runs: summary.runs,
        safetyViolations: summary.safetyViolations, livenessFailures: summary.livenessFailures,
        nonLinearizable: summary.nonLinearizable, unknownVerdicts: summary.unknownVerdicts,
        operations: summary.operations, messages: summary.messages, simulatedMs: summary.simulatedMs,
        wallSeconds: wallS, exitCode, command, seeds: values.seeds, shard: values.shard ?? null,
      }));
      return exitCode;
    }
    const head: [string, string][] = [
      ['protocol', `${values.protocol}${values.mutant ? ` (mutant ${values.mutant})` : ''}, ${base.nodes} nodes, ${values['state-machine']} state machine`],
      ['faults', protocol.faultModel === 'byzantine'
        ? `${[...faults].join(',') || 'none'}${faults.has('crash') ? ' (crashes hit honest replicas, which restart from their disks)' : ''}`
        : [...faults].join(',') || 'none'],
      ...(protocol.faultModel === 'byzantine' ? [['byzantine', `${[...byzantine].join(',') || 'none'} on ${base.byzantineCount ?? `f = ${Math.floor(((base.nodes ?? 1) - 1) / 3)}`} replica(s)`] as [string, string]] : []),
      ...(values.shard === undefined ? [] : [['shard', `${values.shard} of seeds ${values.seeds} (every ${seeds.step}th seed from ${seeds.first})`] as [string, string]]),
    ];
    printSummary(summaryRows(head, summary, wallS), summary, reproduce);
    return exitCode;
  },
});

/** `--shard I/N` of seeds from..to. */
function shardOf(from: number, to: number, spec: string): SeedList {
  const { index, count } = parseShard(spec);
  return shardSeeds(from, to, index, count);
}

/**
 * The sweep as a command line without its seeds, shard and jobs: what a failure's reproduce
 * command starts with, and what tells `quorate sim merge` that outputs belong to one sweep.
 * Every option that changes a run is in it (those at their defaults left out).
 */
function sweepCommand(values: {
  readonly protocol: string; readonly faults: string; readonly 'state-machine': string; readonly mutant?: string | undefined;
  readonly clients: number; readonly keys: number; readonly 'duration-ms': number; readonly 'protocol-option': readonly string[];
  readonly byzantine?: string | undefined; readonly 'byzantine-count'?: number | undefined;
}, base: Partial<SimOptions>, protocol: ProtocolDefinition): string {
  const parts = [`quorate sim --protocol ${values.protocol} --nodes ${base.nodes} --faults ${values.faults}`];
  if (values['state-machine'] !== DEFAULT_SIM_OPTIONS.stateMachine) parts.push(`--state-machine ${values['state-machine']}`);
  if (values.clients !== DEFAULT_SIM_OPTIONS.clients) parts.push(`--clients ${values.clients}`);
  if (values.keys !== DEFAULT_SIM_OPTIONS.keys) parts.push(`--keys ${values.keys}`);
  if (protocol.faultModel === 'byzantine') {
    parts.push(`--byzantine ${values.byzantine ?? 'all'}`);
    if (values['byzantine-count'] !== undefined) parts.push(`--byzantine-count ${values['byzantine-count']}`);
  }
  if (values['duration-ms'] !== DEFAULT_DURATION_MS) parts.push(`--duration-ms ${values['duration-ms']}`);
  if (values.mutant !== undefined) parts.push(`--mutant ${values.mutant}`);
  for (const o of values['protocol-option']) parts.push(`--protocol-option ${o}`);
  return parts.join(' ');
}

/** `quorate sim merge FILE...`: one verdict from the --json outputs of a sweep's shards. */
function mergeCommand(files: readonly string[], json: boolean): number {
  const outputs = files.map((name) => {
    try {
      return { name, text: readFileSync(name, 'utf8') };
    } catch (err) {
      throw new UsageError(`cannot read ${name}: ${(err as Error).message}`);
    }
  });
  const m = mergeSweeps(outputs);
  const failedExit = sweepExitCode(m.summary);
  // A failure found is the answer whatever is missing; a clean sweep with holes is not clean.
  const exitCode = failedExit === 1 ? 1 : m.missingShards.length > 0 || m.cutShort.length > 0 ? 4 : failedExit;
  const reproduce = (seed: number): string => `${m.command} --seeds ${seed} --trace`;
  if (json) {
    for (const f of m.summary.failures.slice(0, LISTED_FAILURES)) console.log(JSON.stringify({ type: 'failure', seed: f.seed, what: f.what, reproduce: reproduce(f.seed) }));
    const s = m.summary;
    console.log(JSON.stringify({
      type: 'merged', protocol: m.protocol, nodes: m.nodes, runs: s.runs,
      safetyViolations: s.safetyViolations, livenessFailures: s.livenessFailures, nonLinearizable: s.nonLinearizable,
      unknownVerdicts: s.unknownVerdicts, operations: s.operations, messages: s.messages, simulatedMs: s.simulatedMs,
      wallSeconds: m.wallSeconds, exitCode, command: m.command, seeds: m.seeds, shards: m.shards, missingShards: m.missingShards, cutShort: m.cutShort,
    }));
    return exitCode;
  }
  const head: [string, string][] = [
    ['sweep', `${m.command} --seeds ${m.seeds}`],
    ['shards', `${m.shards - m.missingShards.length} of ${m.shards} merged`],
  ];
  printSummary(summaryRows(head, m.summary, m.wallSeconds), m.summary, reproduce);
  if (m.missingShards.length > 0) console.log(`INCOMPLETE: no output of shard ${m.missingShards.join(', ')}`);
  if (m.cutShort.length > 0) console.log(`INCOMPLETE: ${m.cutShort.join(', ')} end(s) before the summary (a shard stopped or still running)`);
  return exitCode;
}
