/**
 * Ports for tests. A port the system hands out for listen(0) comes from the ephemeral range, the
 * same range it draws every outgoing connection's local port from: between our closing the probe
 * and a member binding it, another test's connection may take it (EADDRINUSE, seen in CI with
 * many process tests side by side). So ports come from below that range instead, at random, each
 * checked free by binding it, and never handed out twice by one process.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';

/** Where test ports are drawn from: below Linux's default ephemeral range (32768..60999). */
const TEST_PORTS_FROM = 20_000;
const DEFAULT_EPHEMERAL_FROM = 32_768;
/** Tries before giving up on finding a free port (a busy machine's range is far from full). */
const MAX_TRIES = 200;

const handedOut = new Set<number>();

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
    if (handedOut.has(port)) continue;
    if (!(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free test port in ${TEST_PORTS_FROM}..${PORTS_TO} after ${MAX_TRIES} tries`);
}
