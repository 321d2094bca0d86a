/**
 * `quorate sim`: run the deterministic simulator over a range of seeds and print a summary.
 * Any failure prints its seed and the command that reproduces it with a trace.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_PROTOCOL, PROTOCOLS, protocolByName, protocolNames } from '../../protocols/registry.js';
import type { ProtocolDefinition } from '../../core/protocol.js';
import type { MutantInfo } from '../../core/replica.js';
import { DEFAULT_SIM_OPTIONS, FAULT_KINDS, parseByzantine, parseFaults, STATE_MACHINES, TWINS, type SimOptions, type StateMachineKind } from '../../sim/options.js';
import { FAULTS } from '../../sim/nemesis.js';
import { addToSummary, emptySummary, failed, runSeed } from '../../sim/run.js';
import { DRIVER_MUTANTS } from '../../driver/mutants.js';
import { STATE_MACHINE_MUTANTS } from '../../statemachine/mutants.js';
import { STORAGE_MUTANTS } from '../../storage/mutants.js';
import { QuorateError } from '../../core/errors.js';
import { UsageError, type Command } from '../command.js';

const USAGE = () => `usage: quorate sim [--protocol ${protocolNames()}] [--nodes 5] [--seeds 1..100] [--faults all|none|${FAULT_KINDS.join(',')}]
                  [--state-machine ${STATE_MACHINES.join('|')}] [--mutant NAME] [--clients 5] [--keys 3] [--duration-ms 14000]
                  [--trace] [--json] [--protocol-option NAME=VALUE ...]   e.g. phase1QuorumSize=4 (numbers and true/false as such)
                  [--byzantine all|none|BEHAVIOUR,...] [--byzantine-count K]   (Byzantine protocols; default all, K = f)
       quorate sim --list-mutants [--protocol NAME]      the protocol's mutants and the driver's
       quorate sim --list-faults [--protocol NAME]       the nemesis's faults and the protocol's Byzantine behaviours

Exit code: 0 when every run is safe, live and linearizable; 1 when a run failed (with --mutant:
the mutant was caught); 2 when no run failed but the checker could not judge some history within its
budget; 3 for bad input.`;

/** Every mutant a run of `protocol` can switch on: the protocol's own and the shared driver's. */
export function mutantsOf(protocol: ProtocolDefinition): readonly MutantInfo[] {
  return [...protocol.mutants, ...DRIVER_MUTANTS, ...STORAGE_MUTANTS, ...STATE_MACHINE_MUTANTS];
}

/** The Byzantine behaviours a protocol can take: its adversary's and twins. */
export function byzantineBehaviours(protocol: ProtocolDefinition): { name: string; description: string }[] {
  if (protocol.faultModel !== 'byzantine') return [];
  return [
    ...(protocol.adversary?.behaviours ?? []),
    { name: TWINS, description: 'two copies of each liar with the same keys, placed on different sides of partitions (Bano et al., "Twins")' },
  ];
}

export function parseSeeds(spec: string): [number, number] {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(spec);
  if (m === null) throw new UsageError(`--seeds '${spec}' is not N or FROM..TO`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
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

function positiveInt(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got '${v}'`);
  return n;
}

export const simCommand: Command = {
  name: 'sim',
  summary: 'simulate a protocol under faults over many seeds; check safety, liveness, linearizability',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        protocol: { type: 'string', default: DEFAULT_PROTOCOL },
        'state-machine': { type: 'string', default: DEFAULT_SIM_OPTIONS.stateMachine },
        'list-faults': { type: 'boolean', default: false },
        nodes: { type: 'string' },
        seeds: { type: 'string', default: '1..100' },
        faults: { type: 'string', default: 'all' },
        mutant: { type: 'string' },
        'protocol-option': { type: 'string', multiple: true },
        clients: { type: 'string' },
        keys: { type: 'string' },
        'duration-ms': { type: 'string' },
        trace: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'list-mutants': { type: 'boolean', default: false },
        byzantine: { type: 'string' },
        'byzantine-count': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(USAGE());
      return 0;
    }
    if (!PROTOCOLS.has(values.protocol)) throw new UsageError(`unknown protocol '${values.protocol}'; known: ${protocolNames(', ')}`);
    const protocol = protocolByName(values.protocol);
    const mutants = mutantsOf(protocol);
    if (values['list-mutants']) {
      for (const m of mutants) console.log(`${m.name}  ${m.description}`);
      return 0;
    }
    const behaviours = byzantineBehaviours(protocol);
    if (values['list-faults']) {
      for (const k of FAULT_KINDS) console.log(`${k}  ${FAULTS[k].description}`);
      for (const b of behaviours) console.log(`byzantine ${b.name}  ${b.description}`);
      return 0;
    }
    if (values.mutant !== undefined && !mutants.some((m) => m.name === values.mutant)) {
      throw new UsageError(`unknown mutant '${values.mutant}' for ${values.protocol}; see --list-mutants`);
    }
    if (!(STATE_MACHINES as readonly string[]).includes(values['state-machine'])) {
      throw new UsageError(`--state-machine must be one of ${STATE_MACHINES.join(', ')}, got '${values['state-machine']}'`);
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
    const durationMs = positiveInt('--duration-ms', values['duration-ms'], DEFAULT_SIM_OPTIONS.faultWindowMs + DEFAULT_SIM_OPTIONS.livenessBoundMs);
    const base: Partial<SimOptions> = {
      protocol: values.protocol,
      nodes: positiveInt('--nodes', values.nodes, DEFAULT_SIM_OPTIONS.nodes),
      clients: positiveInt('--clients', values.clients, DEFAULT_SIM_OPTIONS.clients),
      keys: positiveInt('--keys', values.keys, DEFAULT_SIM_OPTIONS.keys),
      faults,
      stateMachine: values['state-machine'] as StateMachineKind,
      faultWindowMs: Math.max(0, durationMs - DEFAULT_SIM_OPTIONS.livenessBoundMs),
      livenessBoundMs: Math.min(durationMs, DEFAULT_SIM_OPTIONS.livenessBoundMs),
      trace: values.trace,
      ...(values.mutant === undefined ? {} : { mutant: values.mutant }),
      ...(values['protocol-option'] === undefined ? {} : { protocolOptions: parseProtocolOptions(values['protocol-option'], protocol.optionNames, values.protocol) }),
      ...(protocol.faultModel === 'byzantine' ? { byzantine } : {}),
      ...(values['byzantine-count'] === undefined ? {} : { byzantineCount: Number(values['byzantine-count']) }),
    };
    if (base.byzantineCount !== undefined && (!Number.isInteger(base.byzantineCount) || base.byzantineCount < 0)) throw new UsageError('--byzantine-count must be a whole number');
    if (protocol.faultModel === 'byzantine') {
      const f = Math.floor((base.nodes! - 1) / 3);
      // Beyond f the protocol promises nothing: a failure there shows the bound, not a bug.
      if (base.byzantineCount !== undefined && base.byzantineCount > f) {
        process.stderr.write(`warning: --byzantine-count ${base.byzantineCount} exceeds f = ${f} for ${base.nodes} replicas: the protocol guarantees nothing, failures show the bound\n`);
      }
      if (byzantine.size === 0 && (base.byzantineCount ?? 0) > 0) throw new UsageError('--byzantine-count needs --byzantine behaviours to give the liars (it is "none")');
      if (f === 0) process.stderr.write(`warning: ${base.nodes} replicas tolerate f = 0 Byzantine replicas: the run has no liars (use --nodes 4 or more)\n`);
    }
    const summary = emptySummary();
    const started = performance.now();
    const tty = process.stderr.isTTY === true;
    const total = to - from + 1;
    for (let seed = from; seed <= to; seed++) {
      let r;
      try {
        r = runSeed({ ...base, seed });
      } catch (err) {
        // A configuration the protocol refuses (e.g. quorums that do not intersect) is bad input.
        if (err instanceof QuorateError && err.code === 'INVALID_ARGUMENT') throw new UsageError(err.message);
        throw err;
      }
      addToSummary(summary, r);
      if (values.trace) for (const line of r.trace) console.log(line);
      if (values.trace || total === 1) console.log(`seed ${seed}: trace hash ${r.traceHash}, ${r.stats.events} events`);
      const done = seed - from + 1;
      if (tty) {
        const width = 30;
        const filled = Math.round((done / total) * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} seeds, ${summary.failures.length} failures`);
      } else if (done % 100 === 0 || done === total) {
        process.stderr.write(`${done}/${total} seeds, ${summary.failures.length} failures\n`);
      }
      if (failed(r) && values.mutant !== undefined) break; // caught: one seed is enough
    }
    if (tty) process.stderr.write('\n');
    const wallS = (performance.now() - started) / 1000;
    if (values.json) {
      console.log(JSON.stringify({ ...summary, wallSeconds: wallS }));
    } else {
      const rows: [string, string][] = [
        ['protocol', `${values.protocol}${values.mutant ? ` (mutant ${values.mutant})` : ''}, ${base.nodes} nodes, ${values['state-machine']} state machine`],
        ['faults', protocol.faultModel === 'byzantine'
          ? `${[...faults].join(',') || 'none'}${faults.has('crash') ? ' (crashes hit honest replicas, which restart from their disks)' : ''}`
          : [...faults].join(',') || 'none'],
        ...(protocol.faultModel === 'byzantine' ? [['byzantine', `${[...byzantine].join(',') || 'none'} on ${base.byzantineCount ?? `f = ${Math.floor(((base.nodes ?? 1) - 1) / 3)}`} replica(s)`] as [string, string]] : []),
        ['runs', String(summary.runs)],
        ['safety violations', String(summary.safetyViolations)],
        ['liveness failures', String(summary.livenessFailures)],
        ['non-linearizable histories', String(summary.nonLinearizable)],
        ['unknown verdicts', String(summary.unknownVerdicts)],
        ['operations', String(summary.operations)],
        ['messages delivered', String(summary.messages)],
        ['simulated time', `${(summary.simulatedMs / 1000).toFixed(1)} s`],
        ['wall time', `${wallS.toFixed(1)} s`],
      ];
      const w = Math.max(...rows.map(([k]) => k.length));
      for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    }
    for (const f of summary.failures.slice(0, 20)) {
      const byz = protocol.faultModel === 'byzantine' ? ` --byzantine ${values.byzantine ?? 'all'}${values['byzantine-count'] ? ` --byzantine-count ${values['byzantine-count']}` : ''}` : '';
      const sm = values['state-machine'] === DEFAULT_SIM_OPTIONS.stateMachine ? '' : ` --state-machine ${values['state-machine']}`;
      const reproduce = `quorate sim --protocol ${values.protocol} --nodes ${base.nodes} --seeds ${f.seed} --faults ${values.faults}${sm}${byz}${values['duration-ms'] ? ` --duration-ms ${values['duration-ms']}` : ''}${values.mutant ? ` --mutant ${values.mutant}` : ''}${(values['protocol-option'] ?? []).map((o) => ` --protocol-option ${o}`).join('')} --trace`;
      console.log(`FAIL seed ${f.seed}: ${f.what}\n  reproduce: ${reproduce}`);
    }
    if (summary.failures.length > 0) return 1;
    // A history the checker could not judge in its budget is not a pass.
    if (summary.unknownVerdicts > 0) {
      console.log(`UNDECIDED: ${summary.unknownVerdicts} histories could not be judged within the checker's budget`);
      return 2;
    }
    return 0;
  },
};
