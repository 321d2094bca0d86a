/**
 * `quorate dev` (what `npm start` runs): a local 3-member cluster as three `quorate serve`
 * processes on loopback, data under one folder, output prefixed by member. Ctrl-C stops every
 * member cleanly; running it again resumes from the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BftKeyError, generateKeyFiles, PRIVATE_KEY_FILE_SUFFIX, PUBLIC_KEYS_FILE_NAME } from '../../node/bft-keys.js';
import { DEFAULT_PROTOCOL, PROTOCOLS } from '../../protocols/registry.js';
import { memberStatus } from '../../server/proto.js';
import { defineCommand, UsageError } from '../command.js';
import { LOG_LEVEL_CHOICES, protocolOption } from './shared-options.js';

/** Client and peer ports, as etcd's own local multi-member examples use them. */
export const DEV_MEMBERS = [
  { name: 'm1', client: 2379, peer: 2380 },
  { name: 'm2', client: 22379, peer: 22380 },
  { name: 'm3', client: 32379, peer: 32380 },
] as const;

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
/** Where a Byzantine protocol's dev cluster keeps its members' keys, inside its data directory. */
export const DEV_KEYS_DIR = 'keys';

export const devCommand = defineCommand({
  name: 'dev',
  summary: 'run a local 3-member cluster (what `npm start` runs)',
  description: `Starts members m1, m2, m3 (clients on ports 2379, 22379, 32379; peers on 2380, 22380, 32380). With a protocol whose members need keys, each member gets its own, generated on the first start into DATA-DIR/${DEV_KEYS_DIR} and reused. Ctrl-C stops them cleanly; running the command again resumes with the data intact.`,
  options: {
    protocol: protocolOption('the consensus protocol'),
    'data-dir': { type: 'string', placeholder: 'DIR', defaultText: '.quorate/dev, or .quorate/dev-PROTOCOL for another protocol than the default', help: 'where the members keep their data.' },
    host: { type: 'string', default: '127.0.0.1', placeholder: 'HOST', help: 'the IPv4 address or host name every member listens on.' },
    'port-offset': { type: 'integer', min: 0, max: 30_000, default: 0, help: 'added to every port, e.g. when a system etcd already holds 2379.' },
    'log-level': { type: 'string', default: 'info', choices: LOG_LEVEL_CHOICES, placeholder: 'LEVEL', help: 'the members\' log level (dpanic, panic and fatal, as etcd\'s, log errors only).' },
  },
  exitCodes: [
    [0, 'every member stopped cleanly after Ctrl-C (SIGINT) or SIGTERM'],
    [1, 'a member exited on its own, or did not stop cleanly'],
    [3, 'bad input (an unknown option, a bad value)'],
  ],
  async run({ values }) {
    // The default protocol's cluster lives in .quorate/dev (as before); another protocol's beside it.
    const dataDirFlag = values['data-dir'] ?? (values.protocol === DEFAULT_PROTOCOL ? '.quorate/dev' : `.quorate/dev-${values.protocol}`);
    const dataDir = resolve(dataDirFlag);
    const host = values.host;
    if (host.includes(':')) throw new UsageError('--host: use an IPv4 address or a host name');
    const offset = values['port-offset'];
    const members = DEV_MEMBERS.map((m) => ({ name: m.name, client: m.client + offset, peer: m.peer + offset }));
    const cluster = members.map((m) => `${m.name}=http://${host}:${m.peer}`).join(',');
    const main = fileURLToPath(new URL('../main.js', import.meta.url));
    const keyFlags = PROTOCOLS.get(values.protocol)?.keys === 'per-member' ? await devKeys(dataDir, dataDirFlag, members.map((m) => m.name)) : null;
    const children = new Map<string, ChildProcess>();
    let stopping = false;

    const exited = members.map((m) => new Promise<number>((done) => {
      const child = spawn(process.execPath, [
        main, 'serve',
        '--name', m.name,
        '--data-dir', resolve(dataDir, m.name),
        '--listen-client-urls', `http://${host}:${m.client}`,
        '--listen-peer-urls', `http://${host}:${m.peer}`,
        '--initial-cluster', cluster,
        '--initial-cluster-token', 'quorate-dev',
        '--protocol', values.protocol,
        '--log-level', values['log-level'],
        ...(keyFlags?.(m.name) ?? []),
        // An IPC channel: when this process goes, however it went (SIGKILL, a supervisor's SIGTERM
        // to npm that never reached it), the members see it close and stop (serve.ts).
      ], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.set(m.name, child);
      child.on('exit', (code, signal) => {
        children.delete(m.name);
        if (!stopping) console.error(`[dev] member ${m.name} exited (${signal ?? `code ${code}`}); the others keep running`);
        done(code ?? 1);
      });
    }));

    const stopAll = (): void => {
      if (stopping) return;
      stopping = true;
      console.error('[dev] stopping the cluster...');
      for (const child of children.values()) child.kill('SIGINT');
      setTimeout(() => { for (const child of children.values()) child.kill('SIGKILL'); }, STOP_GRACE_MS).unref();
    };
    process.on('SIGINT', stopAll);
    process.on('SIGTERM', stopAll);

    void announceWhenReady(host, members, dataDirFlag, () => stopping);
    const codes = await Promise.all(exited);
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
    console.error(`[dev] cluster stopped; data kept in ${dataDirFlag}`);
    return stopping && codes.every((c) => c === 0) ? 0 : 1;
  },
});

/**
 * The serve flags giving each member its own key file and the shared public keys file: keys
 * generated on the first start, and the same keys on every later one (the members' peers know them).
 */
async function devKeys(dataDir: string, dataDirFlag: string, names: readonly string[]): Promise<(name: string) => string[]> {
  const dir = resolve(dataDir, DEV_KEYS_DIR);
  const publicKeysFile = resolve(dir, PUBLIC_KEYS_FILE_NAME);
  if (!existsSync(publicKeysFile)) {
    try {
      await generateKeyFiles(dir, names);
    } catch (err) {
      if (err instanceof BftKeyError) throw new UsageError(`cannot generate the dev cluster's keys: ${err.message}`);
      throw err;
    }
    console.error(`[dev] generated each member's keys in ${dataDirFlag}/${DEV_KEYS_DIR}`);
  }
  return (name) => ['--bft-private-key', resolve(dir, `${name}${PRIVATE_KEY_FILE_SUFFIX}`), '--bft-public-keys', publicKeysFile];
}

async function announceWhenReady(host: string, members: readonly { name: string; client: number }[], dataDir: string, stopping: () => boolean): Promise<void> {
  const endpoints = members.map((m) => `${host}:${m.client}`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!stopping() && Date.now() < deadline) {
    try {
      const statuses = await Promise.all(endpoints.map((e) => memberStatus(e, 1_000)));
      const leaders = new Set(statuses.map((s) => s.leader));
      if (leaders.size === 1 && !leaders.has(0)) {
        const leader = statuses.find((s) => s.header.member_id === statuses[0]!.leader);
        const leaderName = leader === undefined ? '?' : members[statuses.indexOf(leader)]!.name;
        console.log([
          '',
          `quorate: a 3-member cluster is up (leader ${leaderName}); data in ${dataDir}`,
          `  client endpoints: ${endpoints.join(',')}`,
          `  try:  etcdctl --endpoints=${endpoints.join(',')} put hello world`,
          `        etcdctl --endpoints=${endpoints.join(',')} endpoint status -w table`,
          '  Ctrl-C stops the cluster; `npm start` again resumes with the data intact.',
          '',
        ].join('\n'));
        return;
      }
    } catch {
      // not up yet
    }
    await sleep(300);
  }
  if (!stopping()) console.error(`[dev] the cluster did not elect a leader within ${READY_TIMEOUT_MS / 1000} s; see the member logs above`);
}
