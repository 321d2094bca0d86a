/**
 * etcd's own command-line client (`etcdctl` 3.4, Debian's etcd-client) against quorate members,
 * for the tests that drive a cluster through it: skipped where it is not installed.
 */
import { execFile, spawnSync } from 'node:child_process';

const HAVE_ETCDCTL = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
/** A test's `skip` option: false with etcdctl installed, else why the test is skipped. */
export const skipWithoutEtcdctl = HAVE_ETCDCTL ? false : 'etcdctl is not installed (Debian package etcd-client)';

export interface Run { code: number; out: string }

/** One etcdctl command against `endpoints`: its exit code and its output (stdout, then stderr). */
export function etcdctl(endpoints: readonly string[], ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('etcdctl', [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=2s', '--command-timeout=10s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` }));
  });
}
