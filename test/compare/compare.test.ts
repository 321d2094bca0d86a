/**
 * `quorate compare --quick`: the report's structure, and that its figures come from runs: another
 * seed moves the latencies, not the facts (faults tolerated, the claims' numbering).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBookClaims } from '../../src/compare/book-claims.js';
import { compare } from '../../src/compare/compare.js';
import { compareMarkdown } from '../../src/compare/render-markdown.js';
import { packageVersion } from '../../src/cli/commands/version.js';
import type { CompareReport } from '../../src/compare/report.js';
import { PROTOCOLS } from '../../src/protocols/registry.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** `quorate compare --quick --seed 1`'s verdicts, claim by claim. */
const SEED_1_VERDICTS: Record<number, string> = {
  1: 'holds', 2: 'holds', 3: 'holds', 4: 'holds', 5: 'not measured', 6: 'holds', 7: 'not measured', 8: 'holds', 9: 'holds', 10: 'differs',
  11: 'not measured', 12: 'not measured', 13: 'differs', 14: 'not measured', 15: 'not measured', 16: 'not measured', 17: 'not measured',
  18: 'not measured', 19: 'holds', 20: 'differs', 21: 'not measured',
};

test('quorate compare --quick writes a report of every engine and every claim, from runs of its seed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'compare-'));
  try {
    const printed = execFileSync(process.execPath, [MAIN, 'compare', '--quick', '--seed', '1', '--out', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const markdown = readFileSync(join(dir, 'compare.md'), 'utf8');
    assert.equal(printed, markdown, 'the Markdown written is the one printed');
    assert.match(markdown, /quorate compare --quick --seed 1/, 'the report says how to make it again');
    const html = readFileSync(join(dir, 'compare.html'), 'utf8');
    assert.equal((html.match(/<svg/g) ?? []).length >= 3, true, 'the page has its charts');
    for (const name of PROTOCOLS.keys()) assert.match(markdown, new RegExp(`\\| ${name} \\|`), `${name} has a row`);
    const claims = readBookClaims();
    for (const c of claims) assert.match(markdown, new RegExp(`^\\| ${c.id} \\|`, 'm'), `claim ${c.id} has a row`);

    const again = compare({ protocols: [...PROTOCOLS.values()], quick: true, seed: 2, claims, command: 'test', version: 'test', progress: () => {} });
    const first = compare({ protocols: [...PROTOCOLS.values()], quick: true, seed: 1, claims, command: 'quorate compare --quick --seed 1', version: packageVersion(), progress: () => {} });
    // The same seed, the same report (the simulator is deterministic): all but the wall time.
    const withoutWallTime = (md: string): string => md.replace(/simulated runs in [\d.]+ s of wall time/, 'simulated runs');
    assert.equal(withoutWallTime(compareMarkdown(first)), withoutWallTime(markdown));
    checkStructure(first);
    checkStructure(again);
    // Facts of the engines do not move with the seed; measured latencies do.
    assert.deepEqual(again.engines.map((e) => [e.protocol, e.nodes, e.f, e.liveWithFDown, e.liveWithFPlus1Down]), first.engines.map((e) => [e.protocol, e.nodes, e.f, e.liveWithFDown, e.liveWithFPlus1Down]));
    assert.ok(first.engines.some((e, i) => e.lanP50Ms !== again.engines[i]!.lanP50Ms), 'another seed gives other latencies: they come from runs');
    assert.ok(first.engines.some((e, i) => e.messagesPerOp !== again.engines[i]!.messagesPerOp), 'and other message counts');
    assert.deepEqual(again.claims.map((c) => c.id), first.claims.map((c) => c.id));
    // The verdicts of seed 1 (a change that moves one is a finding to look at, and to write here).
    assert.deepEqual(Object.fromEntries(first.claims.map((c) => [c.id, c.verdict])), SEED_1_VERDICTS);
    assert.deepEqual(first.failedRuns, [], 'every quick run of seed 1 passes the simulator\'s checks');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function checkStructure(r: CompareReport): void {
  assert.ok(r.runs > 0);
  for (const p of PROTOCOLS.values()) {
    const rows = r.engines.filter((e) => e.protocol === p.name);
    assert.equal(rows.length, 1, `quick: one size of ${p.name}`);
    const row = rows[0]!;
    assert.equal(row.nodes, p.faultModel === 'byzantine' ? 4 : 3);
    assert.equal(row.f, 1);
    assert.equal(row.liveWithFDown, true, `${p.name} lives with f down`);
    assert.equal(row.liveWithFPlus1Down, false, `${p.name} stops with f + 1 down`);
    for (const [k, v] of Object.entries(row)) if (typeof v === 'number') assert.ok(Number.isFinite(v) && v >= 0, `${p.name} ${k} = ${v}`);
    assert.ok(row.messagesPerOp > 0 && row.bytesPerOp > 0 && row.lanP50Ms > 0 && row.wanP50Ms > row.lanP50Ms);
    assert.ok(row.failoverMs !== null && row.failoverMs > 0, `${p.name} fails over`);
    assert.ok(row.newLeaderMs !== null && row.newLeaderMs > 0 && row.newLeaderMs <= row.failoverMs + 10, `${p.name} elects another leader, before writes resume (the leader is sampled every 10 ms tick)`);
  }
  assert.equal(r.claims.length, readBookClaims().length);
  for (const c of r.claims) {
    assert.ok(['holds', 'differs', 'not measured'].includes(c.verdict));
    assert.ok(c.why.length > 0, `claim ${c.id} says why`);
    if (c.verdict !== 'not measured') assert.notEqual(c.measured, '—', `claim ${c.id} has a measured figure`);
  }
  assert.equal(r.charts.latency.length, 2 * PROTOCOLS.size);
  assert.equal(r.charts.throughputVsInFlight.length, PROTOCOLS.size);
}
