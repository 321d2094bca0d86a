/**
 * Quorum client (BFT) request timestamps grow across a member's restarts without the wall clock:
 * replicas ignore a client's request at or below the last timestamp they executed for it, so a
 * member whose clock stepped back (NTP) and that restarted must not start below what its previous
 * incarnation used. And a member's incarnation comes from the system's randomness, not the seed.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeId, type Index, type StateMachine } from '../../src/core/index.js';
import { clientPrincipal } from '../../src/driver/quorum-proposals.js';
import { deriveKeys, CryptoAuthenticator } from '../../src/node/crypto-authenticator.js';
import { ClientTimestamps, CLIENT_TIMESTAMPS_FILE, ReplicatedNode, type MemberAddresses } from '../../src/node/index.js';
import { pbftProtocol } from '../../src/protocols/pbft/index.js';
import { raftProtocol } from '../../src/protocols/raft/index.js';
import { freePort } from '../ports.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an incarnation starts where the previous one\'s reservation ended; the wall clock is never read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-ts-'));
  const now = mock.method(Date, 'now', () => { throw new Error('Date.now() read'); });
  try {
    const first = await ClientTimestamps.open(dir, 1_000);
    assert.equal(first.first, 0, 'a fresh data directory starts at 0');
    assert.equal(readFileSync(join(dir, CLIENT_TIMESTAMPS_FILE), 'utf8').trim(), '1000', 'the reservation is on disk before any client uses it');
    for (let i = 0; i < 100; i++) assert.equal(first.take(), true);
    const second = await ClientTimestamps.open(dir, 1_000);
    assert.equal(second.first, 1_000, 'above the 100 timestamps the first incarnation used');
    const third = await ClientTimestamps.open(dir, 1_000);
    assert.equal(third.first, 2_000);
    assert.equal(now.mock.callCount(), 0);
  } finally {
    now.mock.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the reservation is extended before it runs out; requests beyond a reservation not yet durable are refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-ts-'));
  try {
    const t = await ClientTimestamps.open(dir, 10);
    let taken = 0;
    while (t.take()) taken++;
    // The extension (written once half was used) is not durable yet within one turn: at most 10 go.
    assert.equal(taken, 10);
    for (let i = 0; i < 200 && !t.take(); i++) await sleep(5);
    const onDisk = Number(readFileSync(join(dir, CLIENT_TIMESTAMPS_FILE), 'utf8'));
    assert.ok(onDisk >= 11, `reservation extended on disk to ${onDisk}, beyond the 11 timestamps used`);
    const next = await ClientTimestamps.open(dir, 10);
    assert.ok(next.first >= 11, 'the next incarnation starts above every timestamp used');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged reservation file stops the member instead of reusing timestamps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-ts-'));
  try {
    writeFileSync(join(dir, CLIENT_TIMESTAMPS_FILE), 'garbage\n');
    await assert.rejects(ClientTimestamps.open(dir, 10), /not a client timestamp/);
    writeFileSync(join(dir, CLIENT_TIMESTAMPS_FILE), '');
    await assert.rejects(ClientTimestamps.open(dir, 10), /not a client timestamp/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

class Counter implements StateMachine<number> {
  n = 0;
  apply(_command: Uint8Array, _index: Index): number {
    return ++this.n;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.n));
  }
  restore(data: Uint8Array): void {
    this.n = Number(new TextDecoder().decode(data));
  }
}

test('a PBFT member restarted after its wall clock stepped back an hour still gets its writes executed', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-ts-node-'));
  const members: MemberAddresses[] = [{ id: nodeId('m1'), peer: { host: '127.0.0.1', port: await freePort() } }];
  const principals = ['m1', ...Array.from({ length: 4 }, (_, k) => clientPrincipal(nodeId('m1'), k))];
  let wallMs = 1_700_000_000_000;
  const now = mock.method(Date, 'now', () => wallMs);
  const start = () => ReplicatedNode.start<number>({
    id: nodeId('m1'), clusterId: 'ts-test', dataDir: dir, listen: members[0]!.peer, members, stateMachine: new Counter(), protocol: pbftProtocol,
    timing: { tickMs: 20, heartbeatIntervalMs: 20, electionTimeoutMs: 200 }, limits: { quorumClientsPerMember: 4, proposalTimeoutMs: 3_000 },
    authenticatorFor: (p) => new CryptoAuthenticator(deriveKeys('secret', p, principals)),
  });
  try {
    let node = await start();
    for (let i = 0; i < 5; i++) assert.equal(await node.propose(new Uint8Array([1])), i + 1);
    await node.stop();
    wallMs -= 3_600_000; // NTP stepped the clock back an hour
    node = await start();
    try {
      assert.equal(await node.propose(new Uint8Array([1])), 6, 'executed, not ignored as an old timestamp');
    } finally {
      await node.stop();
    }
  } finally {
    now.mock.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a member\'s incarnation comes from the system\'s randomness: the same seed twice gives two incarnations', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-inc-'));
  const members: MemberAddresses[] = [{ id: nodeId('a'), peer: { host: '127.0.0.1', port: await freePort() } }];
  const start = () => ReplicatedNode.start<number>({
    id: nodeId('a'), clusterId: 'inc-test', dataDir: dir, listen: members[0]!.peer, members, stateMachine: new Counter(), protocol: raftProtocol, seed: 42,
  });
  try {
    const first = await start();
    const a = first.incarnation;
    await first.stop();
    const second = await start();
    const b = second.incarnation;
    await second.stop();
    assert.equal(typeof a, 'string');
    assert.match(a, /^[0-9a-f]{16}$/, '64 random bits');
    assert.notEqual(a, b, 'a repeated seed does not repeat the incarnation');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
