/**
 * The two renderers of `quorate compare` on a report built by hand: every figure shows, nulls
 * show as '—', text from the report cannot break out of its cell or inject markup, the page is
 * self-contained, and nothing (an empty report, an empty series) makes them throw. The engines
 * have made-up names: the figures are fixtures, not any protocol's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareHtml } from '../../src/compare/render-html.js';
import { compareMarkdown } from '../../src/compare/render-markdown.js';
import { cdfPoints, MAX_CDF_POINTS } from '../../src/compare/charts.js';
import type { CompareReport, EngineRow, LatencySeries } from '../../src/compare/report.js';

function engine(over: Partial<EngineRow> & Pick<EngineRow, 'protocol'>): EngineRow {
  return {
    faultModel: 'crash',
    nodes: 3,
    f: 1,
    liveWithFDown: true,
    liveWithFPlus1Down: false,
    messagesPerOp: 4,
    bytesPerOp: 1234,
    criticalPathDelays: 4,
    lanP50Ms: 1.25,
    lanP99Ms: 3.5,
    wanP50Ms: 120,
    wanP99Ms: 250.4,
    modelThroughput: 12345,
    busiestMember: { member: 'n1', messagesPerOp: 4 },
    failoverMs: 310,
    newLeaderMs: 120,
    partialPartitionLeaderChanges: 2,
    ...over,
  };
}

function samples(n: number, from: number, spread: number): number[] {
  return Array.from({ length: n }, (_, i) => from + (spread * i * i) / (n * n)).sort((a, b) => a - b);
}

const REPORT: CompareReport = {
  command: 'quorate compare --seed 7 --quick --out docs/compare.md',
  version: '0.1.0',
  seed: 7,
  quick: true,
  protocols: ['alpha', 'beta', 'gamma'],
  models: [
    { name: 'lan', description: '0.1 ms one-way ± 0.05, fsync 1 ms' },
    { name: 'wan', description: '40 ms one-way ± 10, fsync 1 ms' },
  ],
  cpuModel: { microsPerMessage: 5 },
  engines: [
    engine({ protocol: 'alpha' }),
    engine({
      protocol: 'beta <script>alert(1)</script> | piped',
      nodes: 5,
      f: 2,
      messagesPerOp: 6.333,
      bytesPerOp: 98765,
      criticalPathDelays: 6,
      modelThroughput: 8000.4,
      busiestMember: { member: 'n3', messagesPerOp: 10.5 },
      failoverMs: null,
      newLeaderMs: null,
      partialPartitionLeaderChanges: null,
    }),
    engine({ protocol: 'gamma', faultModel: 'byzantine', nodes: 4, f: 1, liveWithFDown: null, liveWithFPlus1Down: null, criticalPathDelays: 5, modelThroughput: 2_500_000 }),
  ],
  claims: [
    { id: 1, topic: 'messages', claim: 'A write costs 2(n-1) messages', bookFigure: '4 at n=3', measured: '4.00', verdict: 'holds', why: 'fault-free LAN run, seed 7' },
    { id: 2, topic: 'latency | tail', claim: 'p99 stays under <b>2×</b> p50', bookFigure: '2×', measured: '2.8×', verdict: 'differs', why: 'WAN run: <script>x</script>' },
    { id: 3, topic: 'reconfiguration', claim: 'Joint consensus never stalls', bookFigure: 'no stall', measured: '', verdict: 'not measured', why: 'no reconfiguration scenario yet' },
  ],
  charts: {
    latency: [
      { label: 'alpha n=3', model: 'lan', samplesMs: samples(500, 0.2, 5) },
      { label: 'beta n=5', model: 'lan', samplesMs: samples(300, 0.3, 50) },
      { label: 'gamma n=4 (empty)', model: 'lan', samplesMs: [] },
    ],
    messagesVsNodes: [
      { protocol: 'alpha', points: [{ nodes: 3, messagesPerOp: 4 }, { nodes: 5, messagesPerOp: 8 }, { nodes: 7, messagesPerOp: 12 }] },
      { protocol: 'gamma', points: [] },
    ],
    throughputVsInFlight: [
      { protocol: 'alpha', nodes: 3, points: [{ inFlight: 1, opsPerSecond: 900 }, { inFlight: 8, opsPerSecond: 6000 }, { inFlight: 64, opsPerSecond: 12000 }] },
      { protocol: 'beta', nodes: 5, points: [{ inFlight: 1, opsPerSecond: 700 }] },
    ],
  },
  failedRuns: [{ run: 'gamma n=4 lan leader crash seed 8', kind: 'safety', message: 'bounded messages: <a> | b' }],
  runs: 42,
  wallSeconds: 12.34,
};

const EMPTY: CompareReport = {
  ...REPORT,
  protocols: [],
  models: [],
  engines: [],
  claims: [],
  charts: { latency: [], messagesVsNodes: [], throughputVsInFlight: [] },
  failedRuns: [],
};

/** Each engine's formatted figures, as both renderers must show them. */
const FIGURES = [
  ['alpha', '1,234', '12,345', '4.00', '1.25 / 3.50', '120.0 / 250.4', '4 (1)', 'n1 (4.00)', '310.0', 'yes / no'],
  ['98,765', '8,000', '6.33', '6 (2)', 'n3 (10.5)'],
  ['gamma', 'byzantine', '2,500,000', '5 (1.5)', '— / —'],
];

for (const [name, render] of [['Markdown', compareMarkdown], ['HTML', compareHtml]] as const) {
  test(`${name}: the command, the run, every engine's figures and every claim appear`, () => {
    const out = render(REPORT);
    assert.ok(out.includes(REPORT.command), 'the command');
    assert.ok(out.includes('seed 7') && out.includes('quick') && out.includes('0.1.0'), 'seed, quick, version');
    assert.ok(out.includes('5 µs'), 'the CPU model');
    for (const m of REPORT.models) assert.ok(out.includes(m.name), m.name);
    for (const figures of FIGURES) for (const f of figures) assert.ok(out.includes(f), `figure ${f}`);
    for (const c of REPORT.claims) {
      assert.ok(out.includes(c.verdict), c.verdict);
      assert.match(out, new RegExp(`(\\| |<td class="num">)${c.id}( \\||</td>)`), `claim #${c.id}`);
    }
    assert.ok(out.includes('holds') && out.includes('differs') && out.includes('not measured'));
  });

  test(`${name}: nulls show as '—'`, () => {
    const out = render(REPORT);
    // beta's failover and partial-partition changes, gamma's liveness, claim 3's measured figure.
    assert.ok(out.includes('— / —'));
    assert.ok((out.match(/—/g) ?? []).length >= 5);
  });

  test(`${name}: an empty report renders without throwing`, () => {
    const out = render(EMPTY);
    assert.ok(out.includes(EMPTY.command));
    assert.ok(out.length > 0);
  });
}

test('Markdown: `|` and `<` in text are escaped, and every table row has as many cells as its heading', () => {
  const md = compareMarkdown(REPORT);
  assert.ok(!/(?<!\\)<script>/.test(md), 'no raw <script>');
  assert.ok(md.includes('\\<script>'));
  assert.ok(md.includes('latency \\| tail'));
  const rows = md.split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string): number => l.replace(/\\\|/g, '').split('|').length;
  const engineHeading = cells(rows[0]!);
  for (const l of rows.slice(0, 2 + REPORT.engines.length)) assert.equal(cells(l), engineHeading, l);
  const claims = rows.slice(2 + REPORT.engines.length);
  assert.equal(claims.length, 2 + REPORT.claims.length);
  for (const l of claims) assert.equal(cells(l), cells(claims[0]!), l);
});

test('Markdown: a command with backticks gets a longer fence', () => {
  const md = compareMarkdown({ ...REPORT, command: 'quorate compare --note ```x```' });
  assert.ok(md.includes('````sh\nquorate compare --note ```x```\n````'));
});

test('HTML: text is escaped, verdicts coloured, three kinds of chart, nothing fetched', () => {
  const html = compareHtml(REPORT);
  assert.ok(!html.includes('<script'), 'no script element');
  assert.ok(html.includes('&lt;script&gt;'));
  assert.ok(html.includes('&lt;b&gt;2×&lt;/b&gt;'));
  assert.ok(!/https?:\/\//.test(html), 'no URL');
  assert.ok(!/\b(src|href)=/.test(html), 'no resource reference');
  assert.equal((html.match(/<svg/g) ?? []).length, 3);
  assert.deepEqual([...html.matchAll(/data-chart="(\w+)"/g)].map((m) => m[1]), ['latency', 'messages', 'throughput']);
  for (const v of ['holds', 'differs', 'not-measured']) assert.ok(html.includes(`v-${v}`), v);
  assert.ok(html.includes('gamma n=4 (empty) (no data)'), 'the empty series is named in the legend');
  assert.ok(html.includes('alpha n=3') && html.includes('beta n=5'), 'throughput legend labels');
});

test('HTML: empty charts and series say "no data" and draw nothing', () => {
  const html = compareHtml(EMPTY);
  assert.equal((html.match(/<svg/g) ?? []).length, 0);
  assert.equal((html.match(/no data/g) ?? []).length, 3);
  const allEmpty = compareHtml({
    ...EMPTY,
    charts: {
      latency: [{ label: 'x', model: 'lan', samplesMs: [] }],
      messagesVsNodes: [{ protocol: 'x', points: [] }],
      throughputVsInFlight: [{ protocol: 'x', nodes: 3, points: [{ inFlight: 1, opsPerSecond: Number.NaN }] }],
    },
  });
  assert.equal((allEmpty.match(/<svg/g) ?? []).length, 0);
  assert.equal((allEmpty.match(/no data/g) ?? []).length, 3);
});

test('HTML: one latency chart per model, log axis only past two decades', () => {
  const html = compareHtml({
    ...REPORT,
    charts: {
      ...REPORT.charts,
      latency: [
        { label: 'narrow', model: 'lan', samplesMs: samples(100, 1, 20) },
        { label: 'wide', model: 'wan', samplesMs: samples(100, 0.5, 400) },
      ],
    },
  });
  const charts = html.split('<svg').slice(1).filter((s) => s.includes('data-chart="latency"'));
  assert.equal(charts.length, 2);
  assert.ok(!charts[0]!.includes('log scale'));
  assert.ok(charts[1]!.includes('log scale'));
  // A single point, or all values equal, still draws.
  assert.doesNotThrow(() => compareHtml({ ...REPORT, charts: { ...REPORT.charts, latency: [{ label: 'one', model: 'lan', samplesMs: [2] }] } }));
});

test('a CDF is cut to at most MAX_CDF_POINTS, keeping its ends', () => {
  const s = samples(2000, 1, 100);
  const pts = cdfPoints(s);
  assert.ok(pts.length <= MAX_CDF_POINTS);
  assert.deepEqual(pts[0], { x: s[0], y: 100 / 2000 });
  assert.deepEqual(pts[pts.length - 1], { x: s[1999], y: 100 });
  for (let i = 1; i < pts.length; i++) assert.ok(pts[i]!.x >= pts[i - 1]!.x && pts[i]!.y > pts[i - 1]!.y);
  assert.deepEqual(cdfPoints([]), []);
  assert.equal(cdfPoints([3, 1, 2])[0]!.x, 1, 'unsorted input is sorted');
});

test('HTML: 30 engines and 30 latency series of 2,000 samples stay under 300 KB', () => {
  const big: CompareReport = {
    ...REPORT,
    engines: Array.from({ length: 30 }, (_, i) => engine({ protocol: `engine-${i}`, nodes: 3 + (i % 5) * 2 })),
    charts: {
      latency: Array.from({ length: 30 }, (_, i) => ({ label: `engine-${i} n=${3 + (i % 5) * 2}`, model: i % 2 === 0 ? 'lan' : 'wan', samplesMs: samples(2000, 0.1 + i, 40 + i * 10) }) satisfies LatencySeries),
      messagesVsNodes: Array.from({ length: 6 }, (_, i) => ({ protocol: `engine-${i}`, points: [3, 5, 7, 9].map((n) => ({ nodes: n, messagesPerOp: n * (i + 1) })) })),
      throughputVsInFlight: Array.from({ length: 30 }, (_, i) => ({ protocol: `engine-${i}`, nodes: 3, points: [1, 2, 4, 8, 16, 32, 64].map((k) => ({ inFlight: k, opsPerSecond: k * 100 * (i + 1) })) })),
    },
  };
  const html = compareHtml(big);
  assert.ok(Buffer.byteLength(html) < 300_000, `${Buffer.byteLength(html)} bytes`);
  assert.equal((html.match(/<svg/g) ?? []).length, 4);
});

test('both renderers list the runs that failed a check, escaped, and say so when none did', () => {
  const md = compareMarkdown(REPORT);
  assert.match(md, /gamma n=4 lan leader crash seed 8: safety: bounded messages/);
  assert.ok(md.includes('\\<a>'), 'escaped in Markdown');
  const html = compareHtml(REPORT);
  assert.ok(html.includes('gamma n=4 lan leader crash seed 8: safety: bounded messages: &lt;a&gt; | b'), 'escaped in HTML');
  assert.match(compareMarkdown(EMPTY), /Every measuring run passed/);
  assert.match(compareHtml(EMPTY), /Every measuring run passed/);
});
