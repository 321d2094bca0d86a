/**
 * The message schemas (issue 15): each protocol's validator refuses malformed messages (wrong
 * types, out-of-range numbers, missing fields, unknown types, oversized arrays, wrong nested
 * shapes) and accepts every message its own cores send in simulator runs, so it never drops
 * real traffic. The wire's own kinds are checked the same way. A seeded fuzz (2,000 inputs per
 * protocol) throws random and mutated-valid messages at them: no throw, every mutated one refused.
 */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { InvalidMessage, type MessageValidator } from '../../src/core/validate.js';
import { nodeId } from '../../src/core/ids.js';
import { Prng } from '../../src/core/prng.js';
import type { Envelope, SafetyMonitor } from '../../src/core/replica.js';
import type { ProtocolDefinition } from '../../src/core/protocol.js';
import { wireValidator } from '../../src/driver/wire.js';
import { PROTOCOLS } from '../../src/protocols/registry.js';
import {
  DecreeAcceptor, DecreeLearner, DecreeProposer, decreeMessageValidator, makeBallot, type DecreeMessage,
} from '../../src/protocols/paxos/index.js';
import { Simulation } from '../../src/sim/simulation.js';
import { DEFAULT_SIM_OPTIONS } from '../../src/sim/options.js';
import { mutateValid, randomValue } from '../fuzz-frames.js';
import { DEFAULT_FUZZ_SEED, FUZZ_SEED, iterations } from '../fuzz-budget.js';
import { bytes, entry, prePrepare, prepare, request, VALID, viewChange } from './valid-messages.js';

type Change = (m: Record<string, unknown>) => void;
const set = (path: string, value: unknown): Change => (m) => {
  const keys = path.split('.');
  let o = m as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys[keys.length - 1]!] = value;
};
const del = (field: string): Change => (m) => { delete m[field]; };
const many = (n: number, item: unknown) => Array.from({ length: n }, () => item);

/** [type of the base message, what is wrong, the change]: each must be refused. */
const MALFORMED: Record<string, [string, string, Change][]> = {
  raft: [
    ['heartbeat', "term '7' (a string)", set('term', '7')],
    ['heartbeat', 'negative term', set('term', -1)],
    ['heartbeat', 'NaN term', set('term', Number.NaN)],
    ['heartbeat', 'term beyond 2^53', set('term', 2 ** 60)],
    ['heartbeat', 'fractional commit', set('commit', 1.5)],
    ['heartbeat', 'missing commit', del('commit')],
    ['heartbeat', 'unknown type', set('type', 'heartbeats')],
    ['heartbeat', 'numeric from', set('from', 7)],
    ['heartbeat', 'overlong to', set('to', 'x'.repeat(1000))],
    ['vote-request', "preVote 'false'", set('preVote', 'false')],
    ['append', 'entries not an array', set('entries', { 0: entry(5) })],
    ['append', 'more entries than any sender sends', set('entries', Array.from({ length: 5000 }, (_, i) => entry(5 + i, 1)))],
    ['append', 'an entry of an unknown kind', set('entries', [{ ...entry(5), kind: 'evil' }])],
    ['append', 'entry data as a string', set('entries', [{ ...entry(5), data: 'abc' }])],
    ['append', 'entries that skip an index', set('entries', [entry(5), entry(7)])],
    ['append', 'an entry above the message term', set('entries', [entry(5, 9)])],
    ['append', 'an entry at index 0', (m) => { m['prevLogIndex'] = -1; m['entries'] = [entry(0)]; }],
    ['snapshot', 'chunk as a string', set('chunk', 'abc')],
    ['snapshot', 'voters not an array', set('meta.membership.voters', 'n1')],
    ['snapshot', 'more voters than any cluster', set('meta.membership.voters', many(2000, 'n1'))],
    ['snapshot', 'meta missing', del('meta')],
    // Membership.since: the index the configuration holds at (a core asserts it is one).
    ['snapshot', 'a negative since', set('meta.membership.since', -1)],
    ['snapshot', 'a fractional since', set('meta.membership.since', 2.5)],
    ['snapshot', 'since as a string', set('meta.membership.since', '9')],
    ['snapshot', 'since past 2^53', set('meta.membership.since', 2 ** 53)],
    ['snapshot-response', "gap 'yes'", set('gap', 'yes')],
    ['read-index', 'numeric requestId', set('requestId', 1)],
    ['read-index-response', 'negative index', set('index', -3)],
  ],
  multipaxos: [
    ['prepare', "ballot '1025'", set('ballot', '1025')],
    ['prepare', 'missing fromSlot', del('fromSlot')],
    ['promise', 'accepted not an array', set('accepted', null)],
    ['promise', 'a part flag that is not a boolean', set('more', 1)],
    ['promise', 'a negative first slot', set('fromSlot', -1)],
    ['promise', 'snapshot of the wrong shape', set('snapshot', { meta: 1, data: bytes() })],
    ['promise', 'an accepted entry with a string ballot', set('accepted', [{ ...entry(1), acceptedBallot: '3' }])],
    ['nack', 'negative promised', set('promised', -1)],
    ['nack', 'a lease naming no node', set('leader', 7)],
    ['accept', 'more entries than any sender sends', set('entries', many(5000, entry(1)))],
    ['accept', 'readRound NaN', set('readRound', Number.NaN)],
    ['accepted', 'slot 0', set('slots', [0])],
    ['accepted', 'slots as bytes', set('slots', bytes())],
    ['install-snapshot', 'chunk as a string', set('chunk', 'abc')],
    ['install-snapshot', 'snapshot meta without an index', set('meta.index', undefined)],
    ['install-snapshot', 'a numeric digest', set('digest', 7)],
    ['install-snapshot', 'an empty digest', set('digest', '')],
    // Membership.since: the slot a joiner's configuration holds at (the core asserts it is one).
    ['install-snapshot', 'a negative since', set('meta.membership.since', -1)],
    ['install-snapshot', 'a fractional since', set('meta.membership.since', 2.5)],
    ['install-snapshot', 'since as a string', set('meta.membership.since', '9')],
    ['install-snapshot', 'since past 2^53', set('meta.membership.since', 2 ** 53)],
    ['snapshot-ack', 'received as a string', set('received', '3')],
    ['read-index-response', 'index Infinity', set('index', Infinity)],
    ['prepare', 'unknown type', set('type', 'propose')],
  ],
  vr: [
    ['prepare', "view '3'", set('view', '3')],
    ['prepare', 'no ops', set('entries', [])],
    ['prepare', 'more ops than any sender sends', set('entries', Array.from({ length: 5000 }, (_, i) => entry(5 + i, 1)))],
    ['prepare', 'ops that skip an op-number', set('entries', [entry(5), entry(7)])],
    ['prepare-ok', 'negative op-number', set('opNumber', -1)],
    ['commit', 'missing op-number', del('opNumber')],
    ['start-view-change', 'fractional view', set('view', 1.5)],
    ['do-view-change', 'last-normal view not below the view', set('lastNormalView', 4)],
    ['do-view-change', 'commit above op-number', set('commit', 7)],
    ['start-view', 'fromOp 0', set('fromOp', 0)],
    ['start-view', 'an op of an unknown kind', set('entries', [{ ...entry(5), kind: 'evil' }])],
    ['get-state', 'op-number as a string', set('opNumber', '4')],
    ['new-state', 'entries not an array', set('entries', { 0: entry(5) })],
    ['new-state-snapshot', 'snapshot data as a string', set('snapshot.data', 'abc')],
    ['recovery', 'nonce NaN', set('nonce', Number.NaN)],
    ['recovery-response', "primary 'yes'", set('primary', 'yes')],
    ['read-index', 'numeric requestId', set('requestId', 1)],
    ['read-index-response', 'index Infinity', set('index', Infinity)],
    ['commit', 'unknown type', set('type', 'commits')],
  ],
  pbft: [
    ['request', 'op as a string', set('request.op', 'put x')],
    ['request', 'negative timestamp', set('request.timestamp', -1)],
    ['pre-prepare', 'batch larger than any primary sends', set('prePrepare.batch', many(2000, request))],
    ['pre-prepare', "retransmitted 'yes'", set('retransmitted', 'yes')],
    ['pre-prepare', 'seq as a string', set('prePrepare.seq', '1')],
    ['prepare', 'missing signature', (m) => { delete (m['prepare'] as Record<string, unknown>)['signature']; }],
    ['commit', 'macs not an object', set('macs', 'm')],
    ['commit', 'a MAC that is a number', set('macs', { n3: 7 })],
    ['commit', 'a MAC for more receivers than any cluster', set('macs', Object.fromEntries(many(2000, 0).map((_, i) => [`r${i}`, 'm'])))],
    ['checkpoint', "seq '16'", set('checkpoint.seq', '16')],
    ['view-change', 'a certificate whose prepares are not an array', set('viewChange.prepared', [{ prePrepare, prepares: prepare }])],
    ['view-change', 'proof of the wrong shape', set('viewChange.checkpointProof', [1, 2])],
    ['new-view', 'a view change of the wrong shape', set('newView.viewChanges', [{ ...viewChange, newView: -1 }])],
    ['status', 'fractional view', set('view', 0.5)],
    ['fetch-state', 'missing replica', (m) => { delete m['replica']; }],
    ['fetch-state', 'a part index as a string', set('part', '2')],
    ['fetch-state', 'a negative part index', set('part', -1)],
    ['fetch-state', 'a part index past any state', set('part', 32_768)],
    ['state-meta', 'more part digests than the sizes make', set('meta.partDigests', ['a', 'b', 'c', 'd'])],
    ['state-meta', 'a zero part size', set('meta.partBytes', 0)],
    ['state-meta', 'a part size over the largest accepted', set('meta.partBytes', 3 * 1024 * 1024)],
    ['state-meta', 'a hostile total size', set('meta.totalBytes', 2 ** 60)],
    ['state-meta', 'more parts than any state has', set('meta', { totalBytes: 40_000, partBytes: 1, partDigests: many(40_000, 'd') })],
    ['state-meta', 'a part digest that is a number', set('meta.partDigests', ['a', 7, 'c'])],
    ['state-part', 'data as an array', set('data', [1, 2])],
    ['state-part', 'a part index as a fraction', set('part', 1.5)],
    ['state-part', 'empty data', set('data', new Uint8Array(0))],
    ['reply', 'numeric mac', set('mac', 1)],
    ['reply', 'result as a string', set('result', 'ok')],
    ['reply', 'unknown type', set('type', 'replies')],
    ['fetch-batch', 'no digest', set('digest', undefined)],
    ['batch', 'a batch that is no list of requests', set('batch', [1])],
  ],
};

function deepClone<T>(v: T): T {
  return structuredClone(v);
}

function definition(name: string): ProtocolDefinition {
  const p = PROTOCOLS.get(name);
  assert.ok(p !== undefined, name);
  return p;
}

describe('each protocol refuses malformed messages', () => {
  for (const [name, cases] of Object.entries(MALFORMED)) {
    it(`${name}: ${cases.length} malformed messages refused; the well-formed ones they came from accepted`, () => {
      const validate = definition(name).messageValidator({});
      for (const [type, base] of Object.entries(VALID[name]!)) {
        const r = validate(deepClone(base));
        assert.ok(!(r instanceof InvalidMessage), `${name} ${type} is well-formed: ${r instanceof InvalidMessage ? r.reason : ''}`);
      }
      for (const [type, what, change] of cases) {
        const m = deepClone(VALID[name]![type]!);
        change(m);
        const r = validate(m);
        assert.ok(r instanceof InvalidMessage, `${name} ${type} with ${what} is refused`);
      }
      for (const junk of [null, undefined, 7, 'heartbeat', [], bytes(), { type: 'heartbeat' }]) {
        assert.ok(validate(junk) instanceof InvalidMessage, `${String(junk)} is refused`);
      }
    });
  }
});

/** Every protocol message one simulator run sends between members, and the options its cores run with. */
function capture(name: string, seed: number, extra: Record<string, unknown> = {}): { messages: Envelope[]; options: Readonly<Record<string, unknown>>; ok: boolean } {
  const def = definition(name);
  const messages: Envelope[] = [];
  let options: Readonly<Record<string, unknown>> = {};
  const recording: ProtocolDefinition = {
    ...def,
    createMonitor(o) {
      options = o.protocolOptions;
      const inner: SafetyMonitor | undefined = def.createMonitor?.(o);
      return {
        sent(msg) {
          messages.push(msg);
          inner?.sent(msg);
        },
        observed(replica) {
          inner?.observed(replica);
        },
      };
    },
  };
  const r = new Simulation(recording, { ...DEFAULT_SIM_OPTIONS, protocol: name, nodes: name === 'pbft' ? 4 : 5, seed, faultWindowMs: 2_000, livenessBoundMs: 3_000, ...extra }).run();
  return { messages, options, ok: r.outcome.kind === 'ok' };
}

describe('each protocol accepts every message its cores send (simulator runs)', () => {
  for (const name of PROTOCOLS.keys()) {
    it(`${name}: seeds 1-3 (register and etcd state machines) and one Byzantine run for Byzantine protocols: every sent message passes`, (t) => {
      const runs = [capture(name, 1), capture(name, 2), capture(name, 3, { stateMachine: 'etcd' })];
      if (definition(name).faultModel === 'byzantine') runs.push(capture(name, 4, { byzantine: new Set(definition(name).adversary!.behaviours.map((b) => b.name)) }));
      const types = new Map<string, number>();
      for (const run of runs) {
        // A run the driver's own schema check would have stopped (a refused honest message) is not ok.
        assert.ok(run.ok, `${name}: the run completed`);
        const validate = definition(name).messageValidator(run.options);
        for (const m of run.messages) {
          const r = validate(m);
          assert.ok(!(r instanceof InvalidMessage), `${name}: a sent message refused: ${r instanceof InvalidMessage ? r.reason : ''}`);
          const type = String((m as { type?: unknown }).type);
          types.set(type, (types.get(type) ?? 0) + 1);
        }
      }
      t.diagnostic(`${name}: ${[...types.values()].reduce((a, b) => a + b, 0)} messages accepted, by type: ${JSON.stringify(Object.fromEntries(types))}`);
      assert.ok(types.size >= 5, `${name}: the runs sent many kinds of message (${[...types.keys()].join(', ')})`);
    });
  }
});

const isString = (v: unknown): v is string => typeof v === 'string';

/** The messages of single-decree Paxos runs: three duelling proposers, three acceptors, seeded interleavings. */
function decreeMessages(seeds: number): DecreeMessage<string>[] {
  const all: DecreeMessage<string>[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const rng = new Prng(seed);
    const acceptorIds = ['a1', 'a2', 'a3'].map(nodeId);
    const acceptors = new Map(acceptorIds.map((id) => [id as string, new DecreeAcceptor<string>(id)]));
    const proposers = new Map(['p1', 'p2', 'p3'].map((p, i) => [p, new DecreeProposer<string>({ id: nodeId(p), rank: i + 1, acceptors: acceptorIds, value: `v${p}` })]));
    const learner = new DecreeLearner<string>(3);
    const net: DecreeMessage<string>[] = [];
    for (let step = 0; step < 200; step++) {
      if (net.length === 0 || rng.chance(0.1)) {
        net.push(...rng.pick([...proposers.values()]).prepare());
        continue;
      }
      const [m] = net.splice(rng.int(0, net.length - 1), 1);
      all.push(m!);
      const a = acceptors.get(m!.to);
      const p = proposers.get(m!.to);
      if (a !== undefined && m!.type === 'prepare') net.push(a.onPrepare(m!).reply);
      else if (a !== undefined && m!.type === 'accept') {
        const reply = a.onAccept(m!).reply;
        net.push(reply);
        if (reply.type === 'accepted') learner.onAccepted(reply);
      } else if (p !== undefined && m!.type === 'promise') net.push(...p.onPromise(m!));
      else if (p !== undefined && m!.type === 'nack') p.onNack(m!);
    }
  }
  return all;
}

test('single-decree Paxos: every message of 20 seeded runs passes; malformed ones are refused', (t) => {
  const validate = decreeMessageValidator(isString);
  const messages = decreeMessages(20);
  const types = new Set<string>();
  for (const m of messages) {
    const r = validate(m);
    assert.ok(!(r instanceof InvalidMessage), r instanceof InvalidMessage ? r.reason : '');
    types.add(m.type);
  }
  assert.deepEqual([...types].sort(), ['accept', 'accepted', 'nack', 'prepare', 'promise']);
  t.diagnostic(`single-decree: ${messages.length} messages accepted`);
  const b = makeBallot(1, 1);
  for (const bad of [
    { type: 'prepare', from: 'p1', to: 'a1', ballot: '1025' },
    { type: 'prepare', from: 'p1', to: 'a1' },
    { type: 'promise', from: 'a1', to: 'p1', ballot: b, accepted: { ballot: -1, value: 'x' } },
    { type: 'promise', from: 'a1', to: 'p1', ballot: b, accepted: 'x' },
    { type: 'accept', from: 'p1', to: 'a1', ballot: b, value: 7 },
    { type: 'accepted', from: 'a1', to: 'p1', ballot: b },
    { type: 'nack', from: 'a1', to: 'p1', ballot: b, promised: Number.NaN },
    { type: 'learn', from: 'a1', to: 'p1', ballot: b },
  ]) assert.ok(validate(bad) instanceof InvalidMessage, JSON.stringify(bad));
});

describe('the wire kinds', () => {
  const raft = definition('raft').messageValidator({}) as MessageValidator<Envelope>;
  const validate = wireValidator({ protocol: raft, senderHostsMessage: true });
  const heartbeat = VALID['raft']!['heartbeat']!;
  const good: Record<string, unknown>[] = [
    { kind: 'protocol', from: 'n1', to: 'n2', message: heartbeat },
    { kind: 'forward-proposal', from: 'n2', to: 'n1', requestId: 'n2/ab/3', command: bytes() },
    { kind: 'forward-result', from: 'n1', to: 'n2', requestId: 'n2/ab/3', ok: true, result: { anything: [1, 'x'] }, index: 9 },
    { kind: 'forward-result', from: 'n1', to: 'n2', requestId: 'n2/ab/3', ok: false, error: { code: 'NOT_LEADER', message: 'not the leader', leaderHint: 'n3' } },
  ];
  it('well-formed frames pass', () => {
    for (const f of good) assert.ok(!(validate(f) instanceof InvalidMessage), JSON.stringify(f));
  });
  it('malformed frames are refused', () => {
    for (const [what, f] of [
      ['unknown kind', { ...good[0], kind: 'gossip' }],
      ['a protocol message that fails its schema', { ...good[0], message: { ...heartbeat, term: '7' } }],
      ['a protocol message from a member the frame does not come from', { ...good[0], from: 'n3' }],
      ['frame from missing', { ...good[1], from: undefined }],
      ['numeric requestId', { ...good[1], requestId: 3 }],
      ['command as a string', { ...good[1], command: 'put' }],
      ["ok 'true'", { ...good[2], ok: 'true' }],
      ['negative index', { ...good[2], index: -1 }],
      ['error not an object', { ...good[3], error: 'boom' }],
      ['numeric error code', { ...good[3], error: { code: 7, message: 'x', leaderHint: null } }],
      ['overlong error message', { ...good[3], error: { code: 'X', message: 'x'.repeat(10_000), leaderHint: null } }],
      ['numeric leaderHint', { ...good[3], error: { code: 'X', message: 'x', leaderHint: 3 } }],
    ] as const) assert.ok(validate(f) instanceof InvalidMessage, what);
  });
});

/** Inputs per protocol in the fuzz below (times QUORATE_FUZZ_BUDGET: `npm run fuzz` raises it). */
const FUZZ_INPUTS = iterations(2_000);

test(`fuzz: ${FUZZ_INPUTS} random and mutated-valid messages per protocol (seeded): no throw, every mutated one refused`, (t) => {
  for (const name of PROTOCOLS.keys()) {
    const run = capture(name, 7);
    const validate = definition(name).messageValidator(run.options);
    const wire = wireValidator({ protocol: validate as MessageValidator<Envelope>, senderHostsMessage: true });
    // Bases: the run's own messages (one per type at least), and the hand-written ones.
    const byType = new Map<string, Envelope>();
    for (const m of run.messages) byType.set(String((m as { type?: unknown }).type), m);
    const bases: unknown[] = [...byType.values(), ...Object.values(VALID[name] ?? {})];
    const r = new Prng(15_000 + name.length + FUZZ_SEED - DEFAULT_FUZZ_SEED);
    const counts = { random: 0, randomRefused: 0, mutated: 0, mutatedRefused: 0, frames: 0, framesRefused: 0 };
    for (let i = 0; i < FUZZ_INPUTS; i++) {
      const roll = r.int(0, 2);
      if (roll === 0) {
        counts.random++;
        if (validate(randomValue(r)) instanceof InvalidMessage) counts.randomRefused++;
      } else if (roll === 1) {
        counts.mutated++;
        const bad = mutateValid(r, r.pick(bases));
        const verdict = validate(bad);
        if (verdict instanceof InvalidMessage) counts.mutatedRefused++;
        else assert.fail(`${name}: a mutated message passed: ${JSON.stringify(bad, (_, v: unknown) => (v instanceof Uint8Array ? `bytes(${v.length})` : v))}`);
      } else {
        // A frame around a valid message, one field broken (in the frame or in the message).
        counts.frames++;
        const msg = r.pick(bases) as Envelope;
        const frame = { kind: 'protocol', from: String(msg.from).split('#')[0], to: String(msg.to).split('#')[0], message: msg };
        const bad = mutateValid(r, frame);
        if (wire(bad) instanceof InvalidMessage) counts.framesRefused++;
        else assert.fail(`${name}: a mutated frame passed: ${JSON.stringify(bad, (_, v: unknown) => (v instanceof Uint8Array ? `bytes(${v.length})` : v))}`);
      }
    }
    t.diagnostic(`${name}: ${JSON.stringify(counts)}`);
    assert.equal(counts.mutatedRefused, counts.mutated);
    assert.equal(counts.framesRefused, counts.frames);
    assert.ok(counts.randomRefused >= counts.random * 0.99, `${name}: random values are (almost all) refused: ${counts.randomRefused} of ${counts.random}`);
  }
});

