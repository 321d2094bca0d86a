/**
 * One chaos run: a lab, a cluster of real processes in it, a workload against it while a nemesis
 * injects faults, then everything healed and a quiet spell (the cluster must serve again), the
 * history checked, and a report written. The lab is removed however the run ends.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { Prng } from '../core/prng.js';
import { etcdService } from '../server/proto.js';
import { Cluster, type SystemName } from './cluster.js';
import { Lab, removeStaleLabs } from './lab.js';
import { Nemesis, type NemesisEvent, type NemesisKind, type PartitionKind } from './nemesis.js';
import { findFaketime, skewRefusal } from './skew.js';
import { chaosReportHtml, chaosReportMarkdown } from './report.js';
import type { ChaosWorkload, Outcomes, TimedOperation, WorkloadCheck } from './workload.js';
import { workloadByName } from './workloads.js';

/** The cluster must elect a leader and answer a write within this after it starts. */
export const READY_TIMEOUT_MS = 60_000;
/** After the last fault is healed, clients run on this long: a cluster that never recovers shows. */
export const RECOVERY_MS = 5_000;
/** The checker's budget: past it the verdict is unknown. */
export const CHECK_TIMEOUT_MS = 120_000;

export interface ChaosOptions {
  readonly system: SystemName;
  readonly protocol: string;
  readonly mutant: string | null;
  /** A name in CHAOS_WORKLOADS. */
  readonly workload: string;
  readonly nodes: number;
  readonly clients: number;
  readonly keys: number;
  readonly nemesis: readonly NemesisKind[];
  readonly partitions: readonly PartitionKind[];
  readonly timeLimitS: number;
  /** A fault lasts this plus up to as much again; the quiet between faults quietMs plus up to as much again. */
  readonly faultMs: number;
  readonly quietMs: number;
  /** The run ends after this many faults (or at the time limit, whichever comes first); null: at the time limit. */
  readonly maxFaults: number | null;
  readonly seed: number;
  readonly out: string;
  readonly etcdBinary: string;
  readonly commandLine: string;
  readonly log: (line: string) => void;
}

export interface ChaosResult {
  readonly check: WorkloadCheck;
  readonly counts: Outcomes;
  /** What the counts are made of, in the workload's words. */
  readonly legend: string;
  /** The files the workload saved (its history), in Markdown. */
  readonly files: readonly string[];
  /** The workload's cap on operations. */
  readonly maxOperations: number;
  readonly events: readonly NemesisEvent[];
  /** Kill -9 / restart cycles: members killed and restarted. */
  readonly restarts: number;
  /** The nemesis's error when it failed (its faults then not all healed), or null. */
  readonly nemesisError: string | null;
  /** Members that exited without being killed. */
  readonly unexpectedExits: readonly string[];
  /** ok operations in the recovery spell: 0 means the cluster never served again. */
  readonly okAfterHeal: number;
  /** When every fault was healed (run clock, ms). */
  readonly healedAtMs: number;
  /** When the clients stopped at MAX_OPERATIONS (run clock, ms), or null: they ran to the end. */
  readonly cappedAtMs: number | null;
  readonly reportFile: string;
}

/** What in --out says an earlier run used it (empty when nothing does): a run's data, report or any history file. */
export function earlierRun(out: string): string[] {
  if (!existsSync(out)) return [];
  return readdirSync(out).filter((f) => f === 'data' || f === 'report.md' || /^history.*\.jsonl$/.test(f));
}

/** Signals that end a run early: the members are killed and the lab removed before the harness exits. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  // An earlier run's data directories would be this cluster's initial state (its keys already
  // written: a false anomaly) or a membership on another subnet (a cluster that never serves).
  const earlier = earlierRun(o.out);
  if (earlier.length > 0) throw new Error(`${o.out} holds an earlier run (${earlier.join(', ')}): give a new or empty --out`);
  // What cannot run is refused before anything is made: a lab made first was left behind (its
  // namespaces, bridge and veths) by a refusal, no exit handler yet to remove it.
  // Clock faults need every member under libfaketime from its start (the command refuses them where it cannot).
  const faketime = o.nemesis.includes('skew') ? findFaketime() : null;
  if (o.nemesis.includes('skew')) {
    const refusal = skewRefusal(o.system, faketime);
    if (refusal !== null) throw new Error(`--nemesis skew: ${refusal}`);
  }
  const definition = workloadByName(o.workload);
  if (definition === undefined) throw new Error(`no chaos workload '${o.workload}'`);
  mkdirSync(o.out, { recursive: true });
  const stale = removeStaleLabs();
  if (stale > 0) o.log(`removed ${stale} lab(s) left by harnesses that are gone, and their members`);
  const names = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const lab = Lab.create(names);
  const cluster = new Cluster(lab, { system: o.system, protocol: o.protocol, mutant: o.mutant, dir: o.out, etcdBinary: o.etcdBinary, faketime });
  // However the run ends (an exception, an unhandled rejection, a signal) no member outlives the
  // harness and the lab is removed: synchronously, as an exit handler must.
  const abandon = (): void => {
    cluster.killAllNow();
    lab.destroy();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    o.log(`${signal}: killing the members and removing the lab`);
    abandon();
    process.exit(128 + (osConstants.signals[signal] ?? 0));
  };
  process.once('exit', abandon);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  let workload: ChaosWorkload | null = null;
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await workload?.stop();
    await cluster.stopAll();
    lab.destroy();
    process.off('exit', abandon);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  try {
    for (const n of names) cluster.start(n);
    const t0 = performance.now();
    const now = (): number => Math.round((performance.now() - t0) * 1000) / 1000;
    await waitUntilServing(cluster, o.log);
    o.log(`cluster of ${o.nodes} ${o.system === 'etcd' ? 'etcd' : `quorate (${o.protocol})`} members is serving; running for ${o.timeLimitS} s`);
    // Two streams from the seed: shared, the nemesis's choices (faults, victims, durations) hung on
    // how many operations the clients had drawn for, so a seed did not give one schedule twice.
    const workloadRng = new Prng(o.seed);
    const nemesisRng = new Prng(new Prng(o.seed).nextUint32());
    workload = definition.make({ endpoints: names.map((n) => cluster.endpoint(n)), clients: o.clients, keys: o.keys, random: workloadRng, now, log: o.log });
    const nemesis = new Nemesis(lab, cluster, {
      kinds: o.nemesis, partitions: o.partitions, random: nemesisRng, now, log: o.log, faultMs: o.faultMs, quietMs: o.quietMs, maxFaults: o.maxFaults,
    });
    workload.start();
    // A nemesis that fails (iptables refusing a rule) ends the run at once, with its error: not an
    // unhandled rejection while the time limit runs, nor a run that goes on without faults.
    // A nemesis that ends without failing ends the run when it made the faults it was asked for;
    // one with no faults to make leaves the time limit to run.
    const nemesisDone = nemesis.run().then(() => null, (error: unknown) => ({ error }));
    const timeLimit = new AbortController();
    await Promise.race([
      sleep(o.timeLimitS * 1000, undefined, { signal: timeLimit.signal }).catch(() => {}),
      nemesisDone.then((failure) => (failure === null && (o.maxFaults === null || nemesis.faults < o.maxFaults) ? new Promise<never>(() => {}) : failure)),
    ]);
    timeLimit.abort();
    nemesis.stop();
    const failure = await nemesisDone;
    // A nemesis that failed (iptables refusing a rule, a removed member that could not be added
    // back) leaves faults unhealed: no recovery spell, but the history up to then is still
    // checked and reported, and the command fails with the nemesis's error.
    const nemesisError = failure === null ? null : failure.error instanceof Error ? failure.error.message : String(failure.error);
    const healedAt = now();
    if (nemesisError !== null) {
      o.log(`the nemesis failed: ${nemesisError}; checking the history up to here`);
    } else {
      if (o.maxFaults !== null && nemesis.faults >= o.maxFaults) o.log(`${nemesis.faults} faults made (--faults ${o.maxFaults})`);
      o.log(`healed; clients run ${RECOVERY_MS / 1000} s more`);
      await sleep(RECOVERY_MS);
    }
    // The members are stopped and the lab removed before the check: a long check holds nothing.
    await release();
    const counts = workload.counts();
    const history: readonly TimedOperation[] = workload.timed();
    const okAfterHeal = history.filter((op) => op.outcome === 'ok' && op.invokedAt >= healedAt).length;
    const files = workload.save(o.out);
    o.log(`checking ${history.length} operations`);
    const check = workload.check(CHECK_TIMEOUT_MS);
    const result: ChaosResult = {
      check, counts, legend: workload.legend(), files, maxOperations: workload.maxOperations, events: nemesis.events, restarts: nemesis.restarts, nemesisError,
      unexpectedExits: [...cluster.unexpectedExits], okAfterHeal, healedAtMs: healedAt, cappedAtMs: workload.cappedAt, reportFile: join(o.out, 'report.md'),
    };
    const input = { options: o, result, history };
    writeFileSync(result.reportFile, chaosReportMarkdown(input));
    writeFileSync(join(o.out, 'report.html'), chaosReportHtml(input));
    return result;
  } finally {
    await release();
  }
}

/** Until one write goes through some member (a leader is elected, the members talk). */
async function waitUntilServing(cluster: Cluster, log: (line: string) => void): Promise<void> {
  const KV = etcdService('KV');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    for (const name of cluster.names) {
      const kv = new KV(cluster.endpoint(name), grpc.credentials.createInsecure());
      const err = await new Promise<Error | null>((done) => {
        kv['Put']!({ key: Buffer.from('chaos-ready'), value: Buffer.from('1') }, { deadline: Date.now() + 1_000 }, (e: Error | null) => done(e));
      });
      kv.close();
      if (err === null) return;
      last = err.message;
    }
    await sleep(300);
  }
  log(`the cluster did not serve a write within ${READY_TIMEOUT_MS / 1000} s (last error: ${last}); see the member logs`);
  throw new Error(`the cluster did not serve a write within ${READY_TIMEOUT_MS / 1000} s: ${last}`);
}

