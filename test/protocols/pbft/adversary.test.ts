/**
 * Behaviours of the PBFT adversary the simulator draws per run (src/protocols/pbft/adversary.ts),
 * driven directly: what a liar sends when its core answers a state fetch (unasked-parts), how it
 * replays honest CHECKPOINTs (replay-checkpoint), and the commands it orders as its own client
 * (forge-command). Each must be something an honest replica has to judge on its own: validly
 * signed where a signature is checked, and never in an honest replica's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../../src/core/ids.js';
import { Prng } from '../../../src/core/prng.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';
import type { Random } from '../../../src/core/prng.js';
import { checkpointPayload, PbftAdversary, requestPayload, type PbftMessage } from '../../../src/protocols/pbft/index.js';
import { MAX_FORGED_COMMANDS, UNASKED_PART_BURST } from '../../../src/protocols/pbft/adversary.js';

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
