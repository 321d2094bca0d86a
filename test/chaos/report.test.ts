/**
 * `quorate chaos`'s report, from a made-up run (no root): a long history draws without overflowing
 * the stack, a fault's text keeps the Markdown table whole, everything in the HTML is escaped, the
 * outcome counts are explained, and clients stopped by the operation cap are not taken for a
 * cluster that never recovered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Operation } from '../../src/check/history.js';
import { Prng } from '../../src/core/prng.js';
import { RegisterWorkload } from '../../src/chaos/register-workload.js';
import { chaosReportHtml, chaosReportMarkdown, type ReportInput } from '../../src/chaos/report.js';
import type { ChaosOptions, ChaosResult } from '../../src/chaos/run.js';

const options: ChaosOptions = {
  system: 'quorate', protocol: 'raft', mutant: null, workload: 'register', nodes: 3, clients: 6, keys: 5, nemesis: ['partition'], partitions: ['halves'],
  timeLimitS: 10, faultMs: 3000, quietMs: 2000, maxFaults: null, seed: 1, out: '/tmp/x', etcdBinary: '', commandLine: 'quorate chaos --out "<b>&"', log: () => {},
};

function result(over: Partial<ChaosResult> = {}): ChaosResult {
  return {
    check: { verdict: 'valid', summary: 'linearizable', operations: 3, details: '' },
    counts: { ok: 1, fail: 2, unknown: 1, notSent: 7 },
    legend: 'Outcomes: in the workload\'s words.', files: ['`history.jsonl`'], maxOperations: 200_000,
    events: [{ kind: 'partition', what: 'partition halves: n1 | n2 n3 <script>', startMs: 1000, endMs: 4000 }], restarts: 0, nemesisError: null,
    unexpectedExits: [], okAfterHeal: 5, healedAtMs: 9000, cappedAtMs: null, reportFile: '/tmp/x/report.md',
    ...over,
  };
}

const ops: Operation[] = [
  { id: 0, client: 0, kind: 'read', key: 'k1', outcome: 'fail', invokedAt: 1, completedAt: 2 },
  { id: 1, client: 1, kind: 'cas', key: 'k1', value: 1, expected: 2, outcome: 'fail', invokedAt: 1, completedAt: 2 },
  { id: 2, client: 2, kind: 'write', key: 'k1', value: 1, outcome: 'unknown', invokedAt: 1, completedAt: Infinity },
];

test('a fault\'s text with a | stays in its Markdown cell; the workload\'s legend and files are in the report', () => {
  const md = chaosReportMarkdown({ options, result: result(), history: ops });
  const row = md.split('\n').find((l) => l.includes('partition halves'))!;
  assert.equal(row.split(/(?<!\\)\|/).length - 2, 3, row);
  assert.match(md, /Outcomes: in the workload's words\./);
  assert.match(md, /Files: `history\.jsonl`, `report\.html`/);
});

test('the register workload explains its counts', async () => {
  const w = new RegisterWorkload({ endpoints: ['127.0.0.1:1'], clients: 1, keys: 1, random: new Prng(1), now: () => 0, log: () => {} });
  w.history.push(...ops);
  const legend = w.legend();
  await w.stop();
  assert.match(legend, /"fail" is 1 compare-and-sets whose compare was false .* and 1 reads that got an error/);
  assert.match(legend, /"unknown" is 1 writes/);
});

test('an anomaly\'s details go under their heading', () => {
  const md = chaosReportMarkdown({ options, result: result({ check: { verdict: 'invalid', summary: 'G-single', operations: 3, details: 'T1 -rw(k1)-> T2 -wr(k2)-> T1' } }), history: ops });
  assert.match(md, /## Anomaly\n\nT1 -rw\(k1\)-> T2/);
  assert.match(md, /\| G-single \|/);
});

test('the HTML escapes the command line and the faults', () => {
  const html = chaosReportHtml({ options, result: result(), history: ops });
  assert.doesNotMatch(html, /<script>|<b>&/);
  assert.match(html, /&lt;script&gt;/);
});

test('a history of 200,000 operations draws (no spread of it into Math.max)', () => {
  const long: Operation[] = Array.from({ length: 200_000 }, (_, i) => ({ id: i, client: i % 6, kind: 'read', key: 'k1', outcome: 'ok', result: null, invokedAt: i, completedAt: i + 1 }));
  const input: ReportInput = { options, result: result({ cappedAtMs: 150_000 }), history: long };
  assert.doesNotThrow(() => chaosReportHtml(input));
});

test('clients stopped by the cap before the heal: said so, and not called a cluster that did not recover', () => {
  const capped = chaosReportMarkdown({ options, result: result({ okAfterHeal: 0, cappedAtMs: 5000 }), history: ops });
  assert.match(capped, /clients stopped at 5\.0 s: the history reached its cap/);
  assert.doesNotMatch(capped, /did not recover/);
  const stuck = chaosReportMarkdown({ options, result: result({ okAfterHeal: 0 }), history: ops });
  assert.match(stuck, /did not recover/);
});

test('a fault\'s heal that did more than undo it (a removed member added back) is in its row; the kill / restart cycles are counted', () => {
  const md = chaosReportMarkdown({
    options: { ...options, nemesis: ['member', 'kill'], maxFaults: 2 },
    result: result({
      events: [
        { kind: 'member', what: 'member remove n2: stopped, removed, data wiped', startMs: 1000, endMs: 4000, healed: 'n2 added back as learner 123, promoted' },
        { kind: 'kill', what: 'kill -9 n1', startMs: 5000, endMs: 6000 },
      ],
      restarts: 1,
    }),
    history: ops,
  });
  assert.match(md, /\| member remove n2: stopped, removed, data wiped; healed: n2 added back as learner 123, promoted \|/);
  assert.match(md, /\| kill -9 n1 \|/);
  assert.match(md, /Faults made: 2, over 9\.0 s\. Kill -9 \/ restart cycles: 1 \(members killed and restarted\)\./);
  assert.match(md, /10 s of faults at most, or 2 faults/);
});

test('a nemesis that failed is said, and not taken for a cluster that never recovered', () => {
  const md = chaosReportMarkdown({ options, result: result({ nemesisError: 'the learner was not promoted within 60 s', okAfterHeal: 0 }), history: ops });
  assert.match(md, /\*\*The nemesis failed: the learner was not promoted within 60 s\.\*\*/);
  assert.doesNotMatch(md, /did not recover/);
});

test('a fault whose heal failed reads "not healed" in the nemesis table, not Infinity', () => {
  const md = chaosReportMarkdown({ options, result: result({ events: [{ kind: 'member', what: 'member remove n2', startMs: 1000, endMs: Infinity }] }), history: ops });
  assert.match(md, /\| 1\.0 \| not healed \| member remove n2 \|/);
  assert.doesNotMatch(md, /Infinity/);
});
