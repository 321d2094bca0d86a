/**
 * `quorate chaos`: a cluster of real processes (quorate or a real etcd) in network namespaces, a
 * workload against it while a nemesis partitions, kills and pauses members; the history checked
 * and a report written. Exit codes as `quorate check`.
 */
import { resolve } from 'node:path';
import { findEtcd } from '../../chaos/cluster.js';
import { labPrerequisites, LabSetupError } from '../../chaos/lab.js';
import { DEFAULT_NEMESIS, FAULT_MS, NEMESIS_KINDS, PARTITION_KINDS, QUIET_MS, type NemesisKind, type PartitionKind } from '../../chaos/nemesis.js';
import { memberRefusal, membershipProtocols } from '../../chaos/membership.js';
import { findFaketime, skewRefusal } from '../../chaos/skew.js';
import { DEFAULT_KEYS } from '../../chaos/register-workload.js';
import { earlierRun, runChaos } from '../../chaos/run.js';
import { RESULT_HEADER, resultRow } from '../../chaos/report.js';
import { CHAOS_WORKLOADS, workloadByName } from '../../chaos/workloads.js';
import { protocolByName } from '../../protocols/registry.js';
import { DRIVER_MUTANTS } from '../../driver/mutants.js';
import { SERVER_MUTANTS } from '../../server/mutants.js';
import { defineCommand, UsageError } from '../command.js';
import { list, protocolOption } from './shared-options.js';

const EXIT = { valid: 0, invalid: 1, unknown: 2 } as const;
/** The nemesis failed and left faults unhealed (no anomaly in the history up to then). */
const NEMESIS_FAILED = 4;

export const chaosCommand = defineCommand({
  name: 'chaos',
  summary: 'Jepsen-style: real members in network namespaces, faults injected, the history checked',
  description: 'Runs a cluster of real processes, each in its own network namespace on one bridge, and a workload of clients against it while a nemesis injects faults; then heals everything, lets the clients run a few seconds more, checks the history with the workload\'s checker and writes report.md, report.html, the history and the members\' logs to --out. Needs root, iproute2 and iptables (and Debian\'s etcd-server for --system etcd). The members are killed and the namespaces removed when the run ends (also on Ctrl-C or SIGTERM), and any a harness that died left, with their members, are removed by the next.',
  options: {
    system: { type: 'string', default: 'quorate', choices: ['quorate', 'etcd'], help: 'what runs the cluster: quorate serve, or a real etcd (3.4, Debian\'s etcd-server).' },
    protocol: protocolOption('quorate: the consensus protocol'),
    workload: { type: 'string', default: 'register', placeholder: 'NAME', help: `${CHAOS_WORKLOADS.map((w) => `${w.name}: ${w.summary}`).join('; ')}.` },
    nemesis: {
      type: 'string', default: DEFAULT_NEMESIS.join(','), placeholder: 'KINDS',
      help: `faults, comma-separated: ${NEMESIS_KINDS.join(', ')}, or none. `
        + 'partition: halves, an isolated leader, a bridge, a ring, one-way (--partitions); kill: kill -9 of a minority, restarted on heal; pause: SIGSTOP/SIGCONT; '
        + 'skew: quorate only (etcd\'s Go runtime reads the clock through the vDSO, out of libfaketime\'s reach): members\' clocks (wall and monotonic) skewed by a few seconds, jumped, or strobed, through libfaketime (Debian: faketime), reset on heal; '
        + `member: members removed through the Cluster API (never below a majority; stopped, data wiped) and on heal added back as learners, joined to the running cluster and promoted (etcd; quorate ${membershipProtocols().join(', ')}).`,
    },
    partitions: { type: 'string', default: PARTITION_KINDS.join(','), placeholder: 'KINDS', help: `the partitions the nemesis draws from: ${PARTITION_KINDS.join(', ')}.` },
    'time-limit': { type: 'integer', min: 1, max: 24 * 3600, default: 60, placeholder: 'SECONDS', help: 'how long faults are injected (a quiet spell for recovery follows).' },
    'fault-ms': { type: 'integer', min: 10, max: 3_600_000, default: FAULT_MS, placeholder: 'MS', help: 'a fault lasts this plus up to as much again.' },
    'quiet-ms': { type: 'integer', min: 10, max: 3_600_000, default: QUIET_MS, placeholder: 'MS', help: 'the quiet between faults: this plus up to as much again (with --fault-ms 300 --quiet-ms 300 and --nemesis kill, a kill -9 / restart cycle every second or so).' },
    faults: { type: 'integer', min: 1, placeholder: 'N', help: 'end the run after N faults (healed), or at --time-limit, whichever comes first.' },
    nodes: { type: 'integer', min: 1, max: 9, default: 3, help: 'members.' },
    clients: { type: 'integer', min: 1, max: 100, default: 6, help: 'concurrent clients, spread over the members.' },
    keys: { type: 'integer', min: 1, max: 1000, default: DEFAULT_KEYS, help: 'keys the clients use.' },
    seed: { type: 'integer', min: 0, default: 1, help: 'seeds the workload\'s and the nemesis\'s choices (the processes\' timing is not reproducible).' },
    out: { type: 'string', placeholder: 'DIR', defaultText: 'chaos-SYSTEM-TIME', help: 'where the report, the history, the logs and the members\' data go: a new or empty directory (an earlier run\'s data would be the new cluster\'s).' },
    'unsafe-mutant': { type: 'string', placeholder: 'NAME', help: 'quorate: run every member with a test-only bug (serve --unsafe-mutant), to see that the harness catches it.' },
  },
  exitCodes: [
    [0, 'the workload\'s checker passed the history (register: linearizable)'],
    [1, 'an anomaly was found'],
    [2, 'the verdict is unknown (the checker\'s budget ran out)'],
    [3, 'bad input, or the lab cannot be made here (not root, a tool missing)'],
    [NEMESIS_FAILED, 'the nemesis failed (iptables refused a rule, a removed member could not be added back): its faults were left unhealed; the history up to then was checked and reported'],
  ],
  async run({ values }) {
    if (workloadByName(values.workload) === undefined) {
      throw new UsageError(`--workload ${values.workload}: unknown; known: ${CHAOS_WORKLOADS.map((w) => w.name).join(', ')}`);
    }
    const nemesis = values.nemesis === 'none' ? [] : list(values.nemesis);
    for (const n of nemesis) {
      if (!(NEMESIS_KINDS as readonly string[]).includes(n)) throw new UsageError(`--nemesis: unknown fault '${n}'; known: ${NEMESIS_KINDS.join(', ')}`);
    }
    if (nemesis.includes('skew')) {
      const refusal = skewRefusal(values.system as 'quorate' | 'etcd', findFaketime());
      if (refusal !== null) throw new UsageError(`--nemesis skew: ${refusal}`);
    }
    if (nemesis.includes('member')) {
      const refusal = memberRefusal(values.system as 'quorate' | 'etcd', values.protocol, membershipProtocols(), values.nodes);
      if (refusal !== null) throw new UsageError(`--nemesis member: ${refusal}`);
    }
    const partitions = list(values.partitions);
    for (const p of partitions) if (!(PARTITION_KINDS as readonly string[]).includes(p)) throw new UsageError(`--partitions: unknown '${p}'; known: ${PARTITION_KINDS.join(', ')}`);
    if (partitions.length === 0) throw new UsageError('--partitions: name at least one');
    const mutant = values['unsafe-mutant'] ?? null;
    if (mutant !== null) {
      if (values.system !== 'quorate') throw new UsageError('--unsafe-mutant: only with --system quorate');
      const known = [...new Set([...SERVER_MUTANTS.map((m) => m.name), ...protocolByName(values.protocol).mutants.map((m) => m.name), ...DRIVER_MUTANTS.map((m) => m.name)])];
      if (!known.includes(mutant)) throw new UsageError(`--unsafe-mutant: ${values.protocol} has no mutant '${mutant}'; known: ${known.join(', ')}`);
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const out = resolve(values.out ?? `chaos-${values.system}-${stamp}`);
    // Its members' data would be the new cluster's (keys already written: a false anomaly).
    const earlier = earlierRun(out);
    if (earlier.length > 0) throw new UsageError(`--out ${out} holds an earlier run (${earlier.join(', ')}): give a new or empty directory`);
    const missing = labPrerequisites();
    const etcd = values.system === 'etcd' ? findEtcd() : '';
    if (etcd === null) missing.push('etcd (Debian: apt-get install etcd-server)');
    if (missing.length > 0) throw new UsageError(`the lab cannot be made here: missing ${missing.join('; ')}`);
    const log = (line: string): void => console.error(`[chaos ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`);
    const started = performance.now();
    try {
      const result = await runChaos({
        system: values.system as 'quorate' | 'etcd', protocol: values.protocol, mutant, workload: values.workload, nodes: values.nodes, clients: values.clients, keys: values.keys,
        nemesis: nemesis as NemesisKind[], partitions: partitions as PartitionKind[], timeLimitS: values['time-limit'],
        faultMs: values['fault-ms'], quietMs: values['quiet-ms'], maxFaults: values.faults ?? null, seed: values.seed, out,
        etcdBinary: etcd ?? '', commandLine: ['quorate', 'chaos', ...process.argv.slice(3)].join(' '), log,
      });
      console.log(RESULT_HEADER);
      console.log(resultRow({ system: values.system as 'quorate' | 'etcd', protocol: values.protocol, mutant, workload: values.workload, nemesis: nemesis as NemesisKind[] }, result));
      console.log(`report: ${result.reportFile}`);
      // An anomaly is the finding whatever else went wrong; otherwise a nemesis that failed fails the run.
      if (result.nemesisError !== null && result.check.verdict !== 'invalid') {
        console.error(`quorate chaos: the nemesis failed: ${result.nemesisError} (the history up to then: ${result.check.summary})`);
        return NEMESIS_FAILED;
      }
      return EXIT[result.check.verdict];
    } catch (err) {
      // Only a lab that could not be made is bad input; a failure during the run is not.
      if (err instanceof LabSetupError) throw new UsageError(`the lab cannot be made here: ${err.message}`);
      throw err;
    }
  },
});
