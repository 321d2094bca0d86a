/**
 * Behaviours of the PBFT adversary the simulator draws per run (src/protocols/pbft/adversary.ts),
 * driven directly: what a liar sends when its core answers a state fetch (unasked-parts), how it
 * replays honest CHECKPOINTs (replay-checkpoint), the commands it orders as its own client
 * (forge-command), and how it votes while its core stays with the slowest honest replicas
 * (follow-laggard). Each must be something an honest replica has to judge on its own: validly
 * signed where a signature is checked, and never in an honest replica's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';
import type { Random } from '../../../src/core/prng.js';
import { BYZANTINE_KINDS, checkpointPayload, commitPayload, PbftAdversary, preparePayload, requestPayload, type PbftMessage } from '../../../src/protocols/pbft/index.js';
import { LATER_KINDS, MAX_FORGED_COMMANDS, UNASKED_PART_BURST } from '../../../src/protocols/pbft/adversary.js';

const ids = ['n1', 'n2', 'n3', 'n4'] as NodeId[];
const n = (id: string): NodeId => id as NodeId;

function adversary(behaviour: string, liarCommand?: (random: Random, seq: number) => Uint8Array | null) {
  const keyring = new SimKeyring(new Prng(7));
  const adv = new PbftAdversary({
    random: new Prng(3), enabled: new Set([behaviour]), byzantine: new Set([n('n1')]), replicas: ids,
    authenticators: new Map([[n('n1'), keyring.authenticatorFor('n1')]]), maxDelayMs: 100, protocolOptions: { statePartBytes: 32 },
    ...(liarCommand === undefined ? {} : { liarCommand }),
  });
  assert.deepEqual([...adv.active], [behaviour]);
  return { adv, keyring };
}

test('unasked-parts: after its core answers a state fetch, the liar sends that replica parts nobody asked for, under the checkpoint answered', () => {
  const { adv } = adversary('unasked-parts');
  const meta: PbftMessage = {
    type: 'state-meta', from: n('n1'), to: n('n2'), seq: 8, stateDigest: 'd8@32', proof: [],
    meta: { totalBytes: 80, partBytes: 32, partDigests: ['a', 'b', 'c'] },
  };
  const out = adv.transform(meta);
  assert.deepEqual(out[0]?.msg, meta, 'the core\'s answer leaves as it was');
  const parts = out.slice(1).map((o) => o.msg);
  assert.equal(parts.length, UNASKED_PART_BURST);
  for (const p of parts) {
    assert.ok(p.type === 'state-part' && p.from === 'n1' && p.to === 'n2' && p.seq === 8 && p.stateDigest === 'd8@32');
    assert.ok(p.part >= 0 && p.part < 3 && p.data.byteLength <= 32);
  }
  // A replica that executed past the checkpoint is no longer sent any.
  adv.observe({ type: 'status', from: n('n2'), to: n('n1'), view: 0, lastExecuted: 8, replica: n('n2'), macs: {} }, n('n1'));
  for (let i = 0; i < 20; i++) assert.deepEqual(adv.observe({ type: 'status', from: n('n2'), to: n('n1'), view: 0, lastExecuted: 9, replica: n('n2'), macs: {} }, n('n1')), []);
});

test('unasked-parts: an honest part its core sent for one checkpoint is offered later as another checkpoint\'s', () => {
  const { adv } = adversary('unasked-parts');
  const old = new Uint8Array(32).fill(9);
  adv.transform({ type: 'state-part', from: n('n1'), to: n('n3'), seq: 4, stateDigest: 'd4@32', part: 0, data: old });
  const out = adv.transform({ type: 'state-meta', from: n('n1'), to: n('n3'), seq: 8, stateDigest: 'd8@32', proof: [], meta: { totalBytes: 32, partBytes: 32, partDigests: ['x'] } });
  const stale = out.map((o) => o.msg).filter((m) => m.type === 'state-part' && m.seq === 8 && m.data === old);
  assert.ok(stale.length > 0, 'the bytes of part 0 at 4, sent as part 0 at 8');
});

test('replay-checkpoint: honest CHECKPOINTs it received are sent again, unchanged, to other honest replicas', () => {
  const { adv, keyring } = adversary('replay-checkpoint');
  const signature = keyring.authenticatorFor('n2').sign(checkpointPayload(4, 'd4@32', n('n2')));
  const honest: PbftMessage = { type: 'checkpoint', from: n('n2'), to: n('n1'), checkpoint: { seq: 4, stateDigest: 'd4@32', replica: n('n2'), signature } };
  adv.observe(honest, n('n1'));
  const replays: PbftMessage[] = [];
  for (let i = 0; i < 200; i++) {
    for (const o of adv.transform({ type: 'status', from: n('n1'), to: n('n3'), view: 0, lastExecuted: 0, replica: n('n1'), macs: {} })) {
      if (o.msg.type === 'checkpoint') replays.push(o.msg);
    }
  }
  assert.ok(replays.length > 0);
  for (const r of replays) {
    assert.ok(r.type === 'checkpoint');
    assert.deepEqual(r.checkpoint, honest.checkpoint, 'replayed, not forged');
    assert.ok(r.to !== 'n2' && r.to !== 'n1', 'to another honest replica');
  }
});

test('forge-command: the liar orders the workload\'s liar commands as its own client, signed with its own key, at most MAX_FORGED_COMMANDS', () => {
  const command = new Uint8Array([1, 2, 3]);
  const { adv, keyring } = adversary('forge-command', (_r, seq) => (seq % 2 === 0 ? null : command));
  const honestRequest = (t: number): PbftMessage => ({
    type: 'request', from: n('n2#1'), to: n('n1'),
    request: { client: 'n2#1' as never, timestamp: t, op: new Uint8Array([9]), readOnly: false, signature: 'sig' },
  });
  const forged: PbftMessage[] = [];
  for (let t = 1; t <= 5_000; t++) forged.push(...adv.observe(honestRequest(t), n('n1')).map((o) => o.msg));
  assert.ok(forged.length > 0);
  const auth = keyring.authenticatorFor('n1');
  const timestamps = new Set<number>();
  for (const m of forged) {
    assert.ok(m.type === 'request' && m.request.client === 'n1' && m.request.op === command);
    const { signature, ...unsigned } = m.request;
    assert.equal(signature, auth.sign(requestPayload(auth, unsigned)), 'signed as the liar itself');
    timestamps.add(m.request.timestamp);
  }
  assert.ok(timestamps.size <= MAX_FORGED_COMMANDS);
  assert.equal(forged.length, timestamps.size * ids.length, 'each to every replica');
});

const six = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'] as NodeId[];

/** A follow-laggard liar n2 at N = 6 (f = 1), primary n1. */
function laggardFollower() {
  const keyring = new SimKeyring(new Prng(7));
  const adv = new PbftAdversary({
    random: new Prng(3), laterRandom: new Prng(5), enabled: new Set(['follow-laggard']), byzantine: new Set([n('n2')]), replicas: six,
    authenticators: new Map([[n('n2'), keyring.authenticatorFor('n2')]]), maxDelayMs: 100, protocolOptions: {},
  });
  assert.deepEqual([...adv.active], ['follow-laggard']);
  return { adv, keyring };
}

const commitFrom = (replica: string, seq: number): PbftMessage => ({ type: 'commit', from: n(replica), to: n('n2'), view: 0, seq, digest: `d${seq}`, replica: n(replica), macs: {} });
const prePrepareAt = (seq: number): PbftMessage => ({
  type: 'pre-prepare', from: n('n1'), to: n('n2'), prePrepare: { view: 0, seq, digest: `d${seq}`, batch: [], primary: n('n1'), signature: 'sig' },
});

test('follow-laggard: the liar votes at once, in its own name, for a pre-prepare beyond the f + 1 slowest honest replicas, and holds it back from its core until they get there', () => {
  const { adv, keyring } = laggardFollower();
  // n1, n3 and n4 committed up to 5; n5 and n6 (deaf, slow disks) have said nothing: the second slowest is at 0.
  for (const r of ['n1', 'n3', 'n4']) {
    assert.deepEqual(adv.observe(commitFrom(r, 5), n('n2')), []);
    assert.equal(adv.admit(commitFrom(r, 5), n('n2')), false, 'a COMMIT beyond the laggards is held too');
  }
  const pp = prePrepareAt(1);
  const votes = adv.observe(pp, n('n2')).map((o) => o.msg);
  const auth = keyring.authenticatorFor('n2');
  const others = six.filter((r) => r !== 'n2');
  assert.deepEqual(votes.filter((m) => m.type === 'prepare').map((m) => m.to).sort(), others);
  assert.deepEqual(votes.filter((m) => m.type === 'commit').map((m) => m.to).sort(), others);
  for (const m of votes) {
    assert.equal(m.from, 'n2', 'never in an honest replica\'s name');
    if (m.type === 'prepare') assert.equal(m.prepare.signature, auth.sign(preparePayload(0, 1, 'd1', n('n2'))));
    if (m.type === 'commit') for (const r of others) assert.ok(keyring.authenticatorFor(r).verifyMac(commitPayload(0, 1, 'd1', n('n2')), 'n2', m.macs[r]!), `a valid MAC for ${r}`);
  }
  assert.deepEqual(adv.observe(pp, n('n2')), [], 'one vote per pre-prepare');
  assert.equal(adv.admit(pp, n('n2')), false, 'its core does not see it yet');
  assert.deepEqual(adv.release(n('n2')), []);
  // n6 says, in a STATUS, it executed nothing more: still held.
  const status = (lastExecuted: number): PbftMessage => ({ type: 'status', from: n('n6'), to: n('n2'), view: 0, lastExecuted, replica: n('n6'), macs: {} });
  assert.deepEqual(adv.observe(status(0), n('n2')), []);
  assert.equal(adv.admit(status(0), n('n2')), true);
  assert.deepEqual(adv.release(n('n2')), []);
  // n5 commits 1: the second slowest is at 1, and the pre-prepare reaches the core (n6 is behind it still).
  adv.observe(commitFrom('n5', 1), n('n2'));
  assert.equal(adv.admit(commitFrom('n5', 1), n('n2')), true);
  assert.deepEqual(adv.release(n('n2')), [pp]);
  assert.deepEqual(adv.release(n('n2')), [], 'released once');
  // n6 executed 5: the COMMITs at 5 follow, in the order they came.
  adv.observe(status(5), n('n2'));
  assert.deepEqual(adv.release(n('n2')), ['n1', 'n3', 'n4'].map((r) => commitFrom(r, 5)));
  // A pre-prepare the laggards are at reaches its core at once; its core votes for it itself.
  assert.deepEqual(adv.observe(prePrepareAt(1), n('n2')), []);
  assert.equal(adv.admit(prePrepareAt(1), n('n2')), true);
});

test('follow-laggard is drawn from the later stream: enabling it leaves which other behaviours a run uses as they were', () => {
  const keyring = new SimKeyring(new Prng(7));
  const others = BYZANTINE_KINDS.filter((k) => !LATER_KINDS.has(k));
  for (let seed = 1; seed <= 50; seed++) {
    const make = (enabled: readonly string[]) => new PbftAdversary({
      random: new Prng(seed), laterRandom: new Prng(seed + 1_000), enabled: new Set(enabled), byzantine: new Set([n('n1')]), replicas: ids,
      authenticators: new Map([[n('n1'), keyring.authenticatorFor('n1')]]), maxDelayMs: 100, protocolOptions: {},
    });
    const without = make(others);
    const withIt = make(BYZANTINE_KINDS);
    assert.deepEqual([...withIt.active].filter((k) => !LATER_KINDS.has(k as never)), [...without.active], `seed ${seed}`);
  }
});
