/**
 * A local cluster for the benches that put quorate beside etcd: each member a process on
 * loopback (client port basePort + 100 i, peer port + 1), its data and log in one fresh directory,
 * started with etcd's own flags (quorate serve takes them too); and the member every member names
 * as leader, once they agree.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memberStatus } from '../src/server/proto.js';

export interface LocalSystem {
  readonly name: string;
  /** The command and its first arguments (`etcd`, or node main.js serve). */
  readonly command: readonly string[];
  readonly basePort: number;
  readonly members: number;
  /** Flags for one member, given the cluster's directory (prepared by `prepare`). */
  readonly memberFlags?: (dir: string, name: string) => string[];
  readonly prepare?: (dir: string, names: readonly string[]) => Promise<void>;
}

export interface LocalCluster {
  readonly children: ChildProcess[];
  /** Client endpoints (host:port), in member order. */
  readonly endpoints: string[];
  readonly dir: string;
}

/** `tag` names the directory and the cluster token (bench-TAG-SYSTEM). */
export async function startCluster(sys: LocalSystem, tag: string): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${tag}-${sys.name}-`));
  const members = Array.from({ length: sys.members }, (_, i) => ({ name: `b${i + 1}`, client: sys.basePort + i * 100, peer: sys.basePort + 1 + i * 100 }));
  await sys.prepare?.(dir, members.map((m) => m.name));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const children = members.map((m) => {
    const log = openSync(join(dir, `${m.name}.log`), 'a');
    const [cmd, ...args] = sys.command;
    return spawn(cmd!, [...args,
      '--name', m.name, '--data-dir', join(dir, m.name),
      '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `bench-${tag}-${sys.name}`,
      ...(sys.memberFlags?.(dir, m.name) ?? []),
    ], { stdio: ['ignore', log, log] });
  });
  return { children, endpoints: members.map((m) => `127.0.0.1:${m.client}`), dir };
}

/** The index of the member every member names as leader, once they agree (throws after boundMs). */
export async function leaderIndex(c: LocalCluster, boundMs = 30_000): Promise<number> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    try {
      const statuses = await Promise.all(c.endpoints.map((e) => memberStatus(e, 1_000)));
      const leaderId = statuses[0]!.leader;
      const i = statuses.findIndex((s) => s.header.member_id === leaderId);
      if (leaderId !== 0 && statuses.every((s) => s.leader === leaderId) && i >= 0) return i;
    } catch {
      // still starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no leader within ${boundMs} ms; logs in ${c.dir}`);
}

/** SIGKILL every member; the directory removed unless its logs are wanted. */
export function stopCluster(c: LocalCluster, keepLogs = false): void {
  for (const child of c.children) child.kill('SIGKILL');
  if (!keepLogs) rmSync(c.dir, { recursive: true, force: true });
}
