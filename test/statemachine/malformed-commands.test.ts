/**
 * The state machines' apply is total: whatever bytes the log holds, apply answers with a result
 * (an error result for bytes that are no command) and changes nothing for them; it never throws
 * and never lets a field of the wrong type reach an assertion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Encoder } from '@msgpack/msgpack';
import { pack } from '../../src/core/codec.js';
import { index } from '../../src/core/ids.js';
import {
  KvStateMachine, MAX_TXN_DEPTH, decodeKvCommand, encodeKvCommand,
  type KvCommand, type PutRequest, type TxnRequest,
} from '../../src/statemachine/mvcc/index.js';
import { RegisterKv, encodeCommand } from '../../src/statemachine/register-kv.js';

const b = (s: string): Uint8Array => Buffer.from(s);
const put = (key: string, value: string): PutRequest =>
  ({ op: 'put', key: b(key), value: b(value), lease: '0', prevKv: false, ignoreValue: false, ignoreLease: false });
const command = (request: unknown, extra: Record<string, unknown> = {}): Uint8Array =>
  pack({ client: 'c', seq: 1, lowestPending: 1, request, ...extra });

/** A txn nested `depth` levels inside the top one. */
function nested(depth: number): TxnRequest {
  let t: TxnRequest = { op: 'txn', compare: [], success: [put('k', 'v')], failure: [] };
  for (let i = 0; i < depth; i++) t = { op: 'txn', compare: [], success: [t], failure: [] };
  return t;
}

const deepEncoder = new Encoder({ maxDepth: 1_000 });

/** nil inside `levels` arrays of one element. */
function deepArray(levels: number): unknown {
  let v: unknown = null;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** Each one would have thrown inside apply (or tripped an assertion) before apply was total. */
const MALFORMED: readonly [string, Uint8Array][] = [
  ['no MessagePack at all', new Uint8Array([0xc1, 0xc1, 0xc1])],
  ['nothing', new Uint8Array(0)],
  ['a command followed by stray bytes', new Uint8Array([...encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request: put('a', '1') }), 0x00])],
  ['a number', pack(42)],
  ['a map without a request', pack({ client: 'c', seq: 1, lowestPending: 1 })],
  ['an unknown op', command({ op: 'format-disk' })],
  ['an op inherited by every object', command({ op: 'constructor' })],
  ['a key that is a string', command({ ...put('a', '1'), key: 'a' })],
  ['a seq that is a string', pack({ client: 'c', seq: '1', lowestPending: 1, request: put('a', '1') })],
  ['a user that is a number', command(put('a', '1'), { user: 7 })],
  ['a txn whose success list is no list', command({ op: 'txn', compare: [], success: 5, failure: [] })],
  ['a compare with bytes for a version', command({ op: 'txn', compare: [{ result: 'EQUAL', target: 'VERSION', key: b('a'), rangeEnd: b(''), operand: b('1') }], success: [], failure: [] })],
  ['a range with an unknown sort order', command({ op: 'range', key: b('a'), rangeEnd: b(''), limit: 0, revision: 0, sortOrder: 'SIDEWAYS', sortTarget: 'KEY', keysOnly: false, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0 })],
  [`txns nested deeper than ${MAX_TXN_DEPTH}`, deepEncoder.encode({ client: 'c', seq: 1, lowestPending: 1, request: nested(MAX_TXN_DEPTH + 10) })],
  ['a put with a field nested deeper than pack writes (decoded, it cost seconds at 1.5 million levels)', deepEncoder.encode({ client: 'c', seq: 1, lowestPending: 1, request: { ...put('a', '1'), extra: deepArray(900) } })],
  ['a lease grant with id 0 (the lease table asserts on it)', command({ op: 'lease-grant', id: '0', ttlSeconds: 10 })],
  ['auth enable with a short token key (the auth store asserts on it)', command({ op: 'auth-enable', tokenKey: new Uint8Array(4) })],
  ['a permission without a type', command({ op: 'role-grant-permission', name: 'r', perm: { key: b('a'), rangeEnd: b('') } })],
  ['a member update whose peer URLs are no list', command({ op: 'member-update', nodeId: 'n', id: '1', peerUrls: 'http://x' })],
];

test('KV: bytes that are no command are applied as malformed-command, change nothing, and the next command applies', () => {
  const sm = new KvStateMachine();
  sm.apply(encodeKvCommand({ client: 'c0', seq: 1, lowestPending: 1, request: put('a', '1') }), index(1));
  const before = Buffer.from(sm.snapshot()).toString('hex');
  let at = 2;
  for (const [what, bytes] of MALFORMED) {
    assert.equal(decodeKvCommand(bytes), null, what);
    assert.deepEqual(sm.apply(bytes, index(at++)), { ok: false, error: 'malformed-command' }, what);
  }
  assert.equal(Buffer.from(sm.snapshot()).toString('hex'), before, 'nothing changed');
  const next = sm.apply(encodeKvCommand({ client: 'c0', seq: 2, lowestPending: 2, request: put('a', '2') }), index(at));
  assert.equal(next.ok, true);
});

test('KV: every command the server builds decodes, nested txns included up to what its encoder can write', () => {
  const requests: KvCommand['request'][] = [
    put('a', '1'),
    { op: 'delete', key: b('a'), rangeEnd: b('b'), prevKv: true },
    { op: 'compact', revision: 1 },
    nested(40),
    { op: 'txn', compare: [{ result: 'EQUAL', target: 'VALUE', key: b('a'), rangeEnd: b(''), operand: b('1') }, { result: 'LESS', target: 'MOD', key: b('a'), rangeEnd: b(''), operand: 3 }], success: [], failure: [put('b', '2')] },
    { op: 'publish-member', name: 'm1', clientUrls: ['http://127.0.0.1:2379'], memberName: 'm1' },
    { op: 'lease-grant', id: '5', ttlSeconds: 10 },
    { op: 'lease-expire', id: '5', renewals: 0 },
    { op: 'auth-enable', tokenKey: new Uint8Array(32) },
    { op: 'auth-token-key', tokenKey: new Uint8Array(32) },
    { op: 'auth-login', name: 'u', credentialRevision: 2, signature: new Uint8Array(64), sessionKey: new Uint8Array(32), binding: new Uint8Array(64) },
    { op: 'auth-login-use', name: 'u', binding: new Uint8Array(64) },
    { op: 'user-add', name: 'u', password: null },
    { op: 'user-change-password', name: 'u', password: { algorithm: 'scrypt', n: 16384, r: 8, p: 1, salt: new Uint8Array(16), hash: new Uint8Array(64) } },
    { op: 'role-grant-permission', name: 'r', perm: { permType: 'READWRITE', key: b('a'), rangeEnd: b('\u0000') } },
    { op: 'alarm', action: 'activate', memberId: '1', alarm: 'NOSPACE' },
    { op: 'member-update', nodeId: 'n', id: '1', peerUrls: ['http://127.0.0.1:2380'] },
  ];
  for (const request of requests) {
    const cmd = { client: 'c', seq: 1, lowestPending: 1, request, user: 'root' };
    assert.notEqual(decodeKvCommand(encodeKvCommand(cmd)), null, request.op);
  }
  // A field the sender left undefined arrives as null (MessagePack's nil): still a command.
  assert.notEqual(decodeKvCommand(command({ op: 'publish-member', name: 'm1', clientUrls: [], memberName: undefined })), null);
});

test('register map: bytes that are no command are applied and queried as malformed-command, and change nothing', () => {
  const sm = new RegisterKv();
  sm.apply(encodeCommand({ client: 1, seq: 1, op: { f: 'put', key: 'x', value: 1 } }), index(1));
  const malformed = [
    new Uint8Array([0xc1]), new Uint8Array(0), pack('put x 2'), pack({ client: 1, seq: 2 }),
    pack({ client: 1, seq: 2, op: { f: 'put', key: 'x', value: 'two' } }), pack({ client: 1, seq: 2, op: { f: 'drop', key: 'x' } }),
  ];
  for (const [i, bytes] of malformed.entries()) {
    assert.deepEqual(sm.apply(bytes, index(2 + i)), { ok: false, value: null, error: 'malformed-command' });
    assert.deepEqual(sm.query(bytes), { ok: false, value: null, error: 'malformed-command' });
  }
  assert.equal(sm.get('x'), 1);
  assert.deepEqual(sm.apply(encodeCommand({ client: 1, seq: 2, op: { f: 'cas', key: 'x', expected: 1, value: 3 } }), index(10)), { ok: true, value: 3 });
});

/**
 * One request of each op, as the server builds it. The type names every op a KV command may
 * carry: a new op does not compile until it has an example here, so its check in
 * command-decoding.ts (whose field names the compiler does not see) is tried at once.
 */
type RequestOp = KvCommand['request']['op'];
const hash = { algorithm: 'scrypt', n: 16384, r: 8, p: 1, salt: new Uint8Array(16), hash: new Uint8Array(64), loginKey: new Uint8Array(32) } as const;
const ONE_OF_EACH: { readonly [Op in RequestOp]: Extract<KvCommand['request'], { op: Op }> } = {
  'range': { op: 'range', key: b('a'), rangeEnd: b('b'), limit: 10, revision: 0, sortOrder: 'DESCEND', sortTarget: 'MOD', keysOnly: true, countOnly: false, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0 },
  'put': { ...put('a', '1'), lease: '7587866013414398465' },
  'delete': { op: 'delete', key: b('a'), rangeEnd: b('b'), prevKv: true },
  'txn': {
    op: 'txn',
    compare: [
      { result: 'EQUAL', target: 'VALUE', key: b('a'), rangeEnd: b(''), operand: b('1') },
      { result: 'GREATER', target: 'LEASE', key: b('a'), rangeEnd: b(''), operand: '-9223372036854775808' },
      { result: 'NOT_EQUAL', target: 'CREATE', key: b('a'), rangeEnd: b(''), operand: 0 },
    ],
    success: [put('b', '2'), { op: 'delete', key: b('c'), rangeEnd: b(''), prevKv: false }],
    failure: [{ op: 'range', key: b('a'), rangeEnd: b(''), limit: 0, revision: 0, sortOrder: 'NONE', sortTarget: 'KEY', keysOnly: false, countOnly: true, minModRevision: 0, maxModRevision: 0, minCreateRevision: 0, maxCreateRevision: 0 }],
  },
  'compact': { op: 'compact', revision: 3 },
  'compact-vote': { op: 'compact-vote', revision: 3 },
  'publish-member': { op: 'publish-member', name: 'n1', clientUrls: ['http://127.0.0.1:2379'], memberName: 'm1' },
  'auth-enable': { op: 'auth-enable', tokenKey: new Uint8Array(32) },
  'auth-disable': { op: 'auth-disable' },
  'auth-token-key': { op: 'auth-token-key', tokenKey: new Uint8Array(32) },
  'auth-login': { op: 'auth-login', name: 'u', credentialRevision: 2, signature: new Uint8Array(64) },
  'auth-login-use': { op: 'auth-login-use', name: 'u', binding: new Uint8Array(64) },
  'user-add': { op: 'user-add', name: 'u', password: hash },
  'user-delete': { op: 'user-delete', name: 'u' },
  'user-change-password': { op: 'user-change-password', name: 'u', password: hash },
  'user-grant-role': { op: 'user-grant-role', user: 'u', role: 'r' },
  'user-revoke-role': { op: 'user-revoke-role', name: 'u', role: 'r' },
  'role-add': { op: 'role-add', name: 'r' },
  'role-delete': { op: 'role-delete', role: 'r' },
  'role-grant-permission': { op: 'role-grant-permission', name: 'r', perm: { permType: 'READ', key: b('a'), rangeEnd: b('') } },
  'role-revoke-permission': { op: 'role-revoke-permission', role: 'r', key: b('a'), rangeEnd: b('') },
  'lease-grant': { op: 'lease-grant', id: '9223372036854775807', ttlSeconds: 0 },
  'lease-revoke': { op: 'lease-revoke', id: '-1' },
  'lease-renew': { op: 'lease-renew', id: '5' },
  'lease-expire': { op: 'lease-expire', id: '5', renewals: 3 },
  'alarm': { op: 'alarm', action: 'withdraw', memberId: '1', alarm: 'CORRUPT' },
  'member-update': { op: 'member-update', nodeId: 'n1', id: '1', peerUrls: ['http://127.0.0.1:2380'] },
};

test('KV: isCommand takes a command of every op (a leader proposes what a peer forwards only then) and refuses exactly what apply answers as malformed-command', () => {
  const sm = new KvStateMachine();
  for (const request of Object.values(ONE_OF_EACH)) {
    for (const user of [undefined, 'root'] as const) {
      const bytes = encodeKvCommand({ client: 'c', seq: 1, lowestPending: 1, request, ...(user === undefined ? {} : { user }) });
      assert.equal(sm.isCommand(bytes), true, `${request.op} (user ${String(user)})`);
    }
  }
  let at = 1;
  for (const [what, bytes] of MALFORMED) {
    assert.equal(sm.isCommand(bytes), false, what);
    assert.deepEqual(sm.apply(bytes, index(at++)), { ok: false, error: 'malformed-command' }, what);
  }
});

test('register map: isCommand takes every op and refuses what apply answers as malformed-command', () => {
  const sm = new RegisterKv();
  const ops = [
    { f: 'get', key: 'x' }, { f: 'put', key: 'x', value: 1 }, { f: 'cas', key: 'x', expected: null, value: 2 },
    { f: 'cas', key: 'x', expected: 2, value: 3 }, { f: 'delete', key: 'x' },
  ] as const;
  for (const [i, op] of ops.entries()) {
    assert.equal(sm.isCommand(encodeCommand({ client: 1, seq: i + 1, op })), true, op.f);
    assert.equal(sm.isCommand(encodeCommand({ client: 1, seq: i + 1, op, pad: new Uint8Array(8) })), true, `${op.f} with a pad`);
  }
  for (const bytes of [new Uint8Array([0xc1]), pack({ client: 1, seq: 2 }), pack({ client: 1, seq: 2, op: { f: 'put', key: 'x', value: 'two' } })]) {
    assert.equal(sm.isCommand(bytes), false);
    assert.deepEqual(sm.apply(bytes, index(1)), { ok: false, value: null, error: 'malformed-command' });
  }
});
