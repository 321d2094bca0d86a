import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HistoryFormatError, checkHistory, parseJepsen, parseJsonLines, toJsonLines } from '../../src/check/index.js';

const JEPSEN = `
2017-01-01 12:00:00,000{GMT}	INFO	[jepsen worker 0] jepsen.util: 0	:invoke	:write	3
INFO  jepsen.util - 0 :ok :write 3
INFO  jepsen.util - 1 :invoke :read nil
INFO  jepsen.util - :nemesis :info :start nil
INFO  jepsen.util - 1 :ok :read 3
INFO  jepsen.util - 2 :invoke :cas [3 4]
INFO  jepsen.util - 2 :fail :cas [3 4]
INFO  jepsen.util - 3 :invoke :read nil
INFO  jepsen.util - 3 :fail :read :timed-out
INFO  jepsen.util - 4 :invoke :write 5
INFO  jepsen.util - 4 :info :write 5
INFO  jepsen.util - 6 :invoke :cas [3 1]
`;

test('Jepsen log lines: ok, fail, info, timed-out reads and unfinished invocations', () => {
  const ops = parseJepsen(JEPSEN, 'h.log');
  assert.deepEqual(ops.map((o) => [o.client, o.kind, o.outcome]), [
    [0, 'write', 'ok'], [1, 'read', 'ok'], [2, 'cas', 'fail'], [3, 'read', 'unknown'], [4, 'write', 'unknown'], [6, 'cas', 'unknown'],
  ]);
  assert.equal(ops[1]!.result, 3);
  assert.equal(ops[2]!.expected, 3);
  assert.equal(ops[5]!.completedAt, Number.POSITIVE_INFINITY);
});

test('Jepsen independent keys: [k v] tuples become keys', () => {
  const ops = parseJepsen('INFO  jepsen.util - 1 :invoke :write [7 3]\nINFO  jepsen.util - 1 :ok :write [7 3]\nINFO  jepsen.util - 1 :invoke :cas [7 [3 4]]\nINFO  jepsen.util - 1 :ok :cas [7 [3 4]]\nINFO  jepsen.util - 2 :invoke :read [7 nil]\nINFO  jepsen.util - 2 :ok :read [7 4]\n', 'k.log');
  assert.deepEqual(ops.map((o) => [o.key, o.kind, o.value ?? o.result]), [['7', 'write', 3], ['7', 'cas', 4], ['7', 'read', 4]]);
});

test('Jepsen values read the same whether the quick path ([a b] of nil or integers) or the EDN reader reads them', () => {
  // Each pair: a spelling the quick path takes, then the same value spelled so that only the
  // EDN reader takes it (spaces inside the brackets, a list, commas).
  const pairs: [string, string][] = [
    [':cas [3 4]', ':cas [ 3 4 ]'], [':cas [nil -2]', ':cas ( nil, -2 )'], [':cas [3,4]', ':cas [3 ,4 ]'],
    [':write [7 2]', ':write [ 7 2]'], [':cas [7 [1 2]]', ':cas [7 [ 1 2 ]]'],
  ];
  const parse = (v: string) => parseJepsen(`INFO  jepsen.util - 0 :invoke ${v}\nINFO  jepsen.util - 0 :ok ${v}\n`, 'h.log');
  for (const [quick, edn] of pairs) assert.deepEqual(parse(quick), parse(edn), `${quick} / ${edn}`);
  assert.deepEqual(parse(':cas [nil -2]').map((o) => [o.key, o.expected, o.value]), [['', null, -2]]);
  assert.deepEqual(parse(':write [7 2]').map((o) => [o.key, o.value]), [['7', 2]]);
  assert.deepEqual(parse(':cas [7 [1 2]]').map((o) => [o.key, o.expected, o.value]), [['7', 1, 2]]);
});

test('Jepsen integers beyond 2^53 stay exact: two that a number would round together are two values, and two keys', () => {
  // 2^53 + 1 rounds to 2^53 as a double: read as numbers, a read of 2^53 after a write of
  // 2^53 + 1 was linearizable, and keys 2^53 and 2^53 + 1 were one register.
  const register = parseJepsen('INFO  jepsen.util - 0 :invoke :write 9007199254740993\nINFO  jepsen.util - 0 :ok :write 9007199254740993\nINFO  jepsen.util - 1 :invoke :read nil\nINFO  jepsen.util - 1 :ok :read 9007199254740992\n', 'big.log');
  assert.deepEqual(register.map((o) => o.value ?? o.result), ['9007199254740993', '9007199254740992']);
  assert.equal(checkHistory(register, 'register').verdict, 'not-linearizable');
  const keyed = parseJepsen('INFO  jepsen.util - 0 :invoke :write [9007199254740993 1]\nINFO  jepsen.util - 0 :ok :write [9007199254740993 1]\nINFO  jepsen.util - 1 :invoke :read [9007199254740992 nil]\nINFO  jepsen.util - 1 :ok :read [9007199254740992 nil]\n', 'big.log');
  assert.deepEqual(keyed.map((o) => o.key), ['9007199254740993', '9007199254740992']);
  assert.equal(checkHistory(keyed, 'kv').verdict, 'linearizable');
  // Every spelling of one integer is one value, by either reader (the quick path, the EDN reader);
  // integers a number holds exactly stay numbers.
  const cas = (v: string) => parseJepsen(`INFO  jepsen.util - 0 :invoke :cas ${v}\nINFO  jepsen.util - 0 :ok :cas ${v}\n`, 'big.log').map((o) => [o.key, o.expected, o.value]);
  assert.deepEqual(cas('[-0009007199254740993 9007199254740991]'), [['', '-9007199254740993', 9007199254740991]]);
  assert.deepEqual(cas('( -9007199254740993, 9007199254740991 )'), [['', '-9007199254740993', 9007199254740991]]);
  assert.deepEqual(cas('[00009007199254740993 [99999999999999999999 -7]]'), [['9007199254740993', '99999999999999999999', -7]]);
});

test('malformed Jepsen lines name the file and line', () => {
  assert.throws(() => parseJepsen('INFO  jepsen.util - 1 :ok :write 3\n', 'bad.log'), (e: Error) => e instanceof HistoryFormatError && e.line === 1);
  assert.throws(() => parseJepsen('INFO  jepsen.util - 1 :invoke :cas [3\n', 'bad.log'), /bad.log:1/);
});

test('JSON lines round-trip and report malformed lines', () => {
  const ops = parseJepsen(JEPSEN, 'h.log');
  const again = parseJsonLines(toJsonLines(ops), 'h.jsonl');
  assert.deepEqual(again.map((o) => ({ ...o, id: 0 })), ops.map((o) => ({ ...o, id: 0 })));
  assert.throws(() => parseJsonLines('{"client":1,"f":"read","outcome":"ok","invoke":1,"complete":2}\nnot json\n', 'x.jsonl'), /x.jsonl:1: an ok read needs/);
  assert.throws(() => parseJsonLines('\nnot json\n', 'x.jsonl'), /x.jsonl:2: not valid JSON/);
});

test('JSON lines: a key that is not a string, or an integer a JSON number cannot hold exactly, is bad input', () => {
  const line = (fields: string) => `{"client":1,"f":"write","outcome":"ok","invoke":1,"complete":2,${fields}}\n`;
  // A key 1 and a key "1" were two registers, and a key {} one per operation: the kv model
  // checked each on its own and passed what one register would fail.
  assert.throws(() => parseJsonLines(line('"key":1,"value":3'), 'x.jsonl'), /x.jsonl:1: "key" must be a string/);
  assert.throws(() => parseJsonLines(line('"key":{},"value":3'), 'x.jsonl'), /x.jsonl:1: "key" must be a string/);
  // 2^53 + 1 parses as 2^53: a read of one after a write of the other passed.
  assert.throws(() => parseJsonLines(line('"value":9007199254740993'), 'x.jsonl'), /x.jsonl:1: "value" 9007199254740992 is beyond 2\^53/);
  assert.throws(() => parseJsonLines('{"client":1,"f":"cas","expected":-9007199254740993,"value":1,"outcome":"ok","invoke":1,"complete":2}\n', 'x.jsonl'), /"expected" -9007199254740992 is beyond 2\^53/);
  assert.throws(() => parseJsonLines('{"client":1,"f":"read","result":1e300,"outcome":"ok","invoke":1,"complete":2}\n', 'x.jsonl'), /"result" 1e\+300 is beyond 2\^53/);
  // The largest exact integers, fractions and strings of digits are values as they are.
  assert.deepEqual(parseJsonLines(line('"key":"k","value":9007199254740991') + line('"value":-9007199254740991') + line('"value":0.5') + line('"value":"9007199254740993"'), 'x.jsonl').map((o) => o.value), [9007199254740991, -9007199254740991, 0.5, '9007199254740993']);
});

test('quorate check: verdict per file and exit codes 0, 1, 2, 3', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'quorate-check-'));
  const good = join(dir, 'good.log');
  const bad = join(dir, 'bad.log');
  const broken = join(dir, 'broken.log');
  writeFileSync(good, 'INFO  jepsen.util - 0 :invoke :write 1\nINFO  jepsen.util - 0 :ok :write 1\nINFO  jepsen.util - 1 :invoke :read nil\nINFO  jepsen.util - 1 :ok :read 1\n');
  writeFileSync(bad, 'INFO  jepsen.util - 0 :invoke :write 1\nINFO  jepsen.util - 0 :ok :write 1\nINFO  jepsen.util - 1 :invoke :read nil\nINFO  jepsen.util - 1 :ok :read 2\n');
  writeFileSync(broken, 'INFO  jepsen.util - 0 :ok :write 1\n');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'check', '--model', 'register', '--format', 'jepsen', ...args], { encoding: 'utf8' });
  assert.equal(run(good).status, 0);
  assert.equal(run(good).stdout.trim(), 'linearizable');
  const b = run(bad);
  assert.equal(b.status, 1);
  assert.match(b.stdout, /^not linearizable/);
  assert.equal(run('--max-steps', '1', good).status, 2);
  const x = run(broken);
  assert.equal(x.status, 3);
  assert.match(x.stderr, /broken.log:1/);
  const many = run(good, bad);
  assert.equal(many.status, 1);
  assert.match(many.stdout, /good.log: linearizable\n/);
  assert.match(many.stdout, /bad.log: not linearizable/);
  assert.equal(run(good, broken, bad).status, 3, 'bad input is the worst verdict');
});
