/**
 * Ports for tests. A port the system hands out for listen(0) comes from the ephemeral range, the
 * same range it draws every outgoing connection's local port from: between our closing the probe
 * and a member binding it, another test's connection may take it (EADDRINUSE, seen in CI with
 * many process tests side by side). So ports come from below that range instead, at random, each
 * checked free by binding it, and never handed out twice.
 *
 * Twice by one process is easy to rule out; across the test files the runner runs side by side,
 * a port one file drew may not be bound yet (a member process still starting) when another file
 * draws it too, and the bind check passes for both (EADDRINUSE again, now and then in CI). So a
 * port is also claimed in a directory every test process shares, by creating a file named after
 * it (exclusive create: one process wins), removed when the process exits; a claim whose process
 * is gone (killed) is taken over.
 */
import { createServer } from 'node:net';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where test ports are drawn from: below Linux's default ephemeral range (32768..60999). */
const TEST_PORTS_FROM = 20_000;
const DEFAULT_EPHEMERAL_FROM = 32_768;
/** Tries before giving up on finding a free port (a busy machine's range is far from full). */
const MAX_TRIES = 200;

const handedOut = new Set<number>();

/** Where test processes claim their ports (one file per port, holding the claimer's pid). */
const CLAIMS_DIR = join(tmpdir(), 'quorate-test-ports');

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/** Claim `port` for this process across every test process; false if another live one holds it. */
export function claimPort(port: number): boolean {
  if (handedOut.has(port)) return false;
  if (!claim(port)) return false;
  handedOut.add(port);
  return true;
}

function claim(port: number, takeOverStale = true): boolean {
  const file = join(CLAIMS_DIR, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let owner = 0;
  try {
    owner = Number(readFileSync(file, 'utf8'));
  } catch {
    // Removed in between: try once more.
  }
  if (!takeOverStale || (Number.isInteger(owner) && owner > 0 && processAlive(owner))) return false;
  try {
    unlinkSync(file);
  } catch {
    // Another process took it over first; the exclusive create below decides.
  }
  return claim(port, false);
}

function releaseClaims(): void {
  for (const port of handedOut) {
    try {
      unlinkSync(join(CLAIMS_DIR, String(port)));
    } catch {
      // Already gone.
    }
  }
}

mkdirSync(CLAIMS_DIR, { recursive: true });
process.on('exit', releaseClaims);

function testPortsTo(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > TEST_PORTS_FROM + 1000) return low;
  } catch {
    // Not Linux, or no /proc: the default range.
  }
  return DEFAULT_EPHEMERAL_FROM;
}

const PORTS_TO = testPortsTo();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const port = TEST_PORTS_FROM + Math.floor(Math.random() * (PORTS_TO - TEST_PORTS_FROM));
    if (!claimPort(port)) continue;
    if (!(await bindable(port))) continue; // claimed, and stays so: bound by something else
    return port;
  }
  throw new Error(`no free test port in ${TEST_PORTS_FROM}..${PORTS_TO} after ${MAX_TRIES} tries`);
}
