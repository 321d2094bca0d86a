/**
 * How a CompareReport's figures read, shared by the Markdown and the HTML renderers so that both
 * tables say the same thing: number formats, the engine table's columns, the claims table's
 * columns and the prose around them. Each renderer only escapes and lays out these strings.
 */
import type { ClaimRow, CompareReport, EngineRow } from './report.js';

/** What a figure that was not measured reads as. */
export const DASH = '—';

/** Thousands separators by hand, not toLocaleString: the output must not depend on the host's locale. */
function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function fixed(n: number, decimals: number): string {
  if (!Number.isFinite(n)) return DASH;
  const [whole, frac] = Math.abs(n).toFixed(decimals).split('.');
  const sign = n < 0 && Number(`${whole}.${frac ?? 0}`) !== 0 ? '-' : '';
  return `${sign}${groupThousands(whole!)}${frac === undefined ? '' : `.${frac}`}`;
}

/** Counts and large figures (bytes, ops/s): an integer with thousands separators. */
export function formatInteger(n: number | null): string {
  return n === null ? DASH : fixed(n, 0);
}

/** Small measured ratios (messages/op, ms): two decimals under 10, one under 1,000, none above. */
export function formatDecimal(n: number | null): string {
  if (n === null) return DASH;
  const a = Math.abs(n);
  return fixed(n, a < 10 ? 2 : a < 1000 ? 1 : 0);
}

/** At most `decimals` decimals, trailing zeros dropped: 4 delays read "4", not "4.00". */
export function formatTrimmed(n: number, decimals: number): string {
  const s = fixed(n, decimals);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

export function formatYesNo(b: boolean | null): string {
  return b === null ? DASH : b ? 'yes' : 'no';
}

export function formatWallTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return DASH;
  if (seconds < 120) return `${formatTrimmed(seconds, 1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

/** One column of a table: its heading, whether it holds numbers (right-aligned), and its cell. */
export interface Column<Row> {
  readonly heading: string;
  readonly numeric: boolean;
  readonly cell: (row: Row) => string;
}

export const ENGINE_COLUMNS: readonly Column<EngineRow>[] = [
  { heading: 'protocol', numeric: false, cell: (e) => e.protocol },
  { heading: 'faults', numeric: false, cell: (e) => e.faultModel },
  { heading: 'n', numeric: true, cell: (e) => formatInteger(e.nodes) },
  { heading: 'f', numeric: true, cell: (e) => formatInteger(e.f) },
  { heading: 'live f / f+1 down', numeric: false, cell: (e) => `${formatYesNo(e.liveWithFDown)} / ${formatYesNo(e.liveWithFPlus1Down)}` },
  { heading: 'msgs/op', numeric: true, cell: (e) => formatDecimal(e.messagesPerOp) },
  { heading: 'bytes/op', numeric: true, cell: (e) => formatInteger(e.bytesPerOp) },
  {
    heading: 'delays (protocol round trips)',
    numeric: true,
    cell: (e) => (Number.isFinite(e.criticalPathDelays) ? `${formatTrimmed(e.criticalPathDelays, 1)} (${formatTrimmed((e.criticalPathDelays - 2) / 2, 2)})` : DASH),
  },
  { heading: 'LAN p50 / p99 ms', numeric: true, cell: (e) => `${formatDecimal(e.lanP50Ms)} / ${formatDecimal(e.lanP99Ms)}` },
  { heading: 'WAN p50 / p99 ms', numeric: true, cell: (e) => `${formatDecimal(e.wanP50Ms)} / ${formatDecimal(e.wanP99Ms)}` },
  { heading: 'model ops/s', numeric: true, cell: (e) => formatInteger(e.modelThroughput) },
  { heading: 'busiest (msgs/op)', numeric: false, cell: (e) => `${e.busiestMember.member} (${formatDecimal(e.busiestMember.messagesPerOp)})` },
  { heading: 'new leader ms', numeric: true, cell: (e) => formatDecimal(e.newLeaderMs) },
  { heading: 'failover ms', numeric: true, cell: (e) => formatDecimal(e.failoverMs) },
  { heading: 'partial-partition leader changes', numeric: true, cell: (e) => formatInteger(e.partialPartitionLeaderChanges) },
];

export const CLAIM_COLUMNS: readonly Column<ClaimRow>[] = [
  { heading: '#', numeric: true, cell: (c) => String(c.id) },
  { heading: 'topic', numeric: false, cell: (c) => c.topic },
  { heading: 'claim', numeric: false, cell: (c) => c.claim },
  { heading: "book's figure", numeric: false, cell: (c) => c.bookFigure },
  { heading: 'measured', numeric: false, cell: (c) => (c.measured.trim() === '' ? DASH : c.measured) },
  { heading: 'verdict', numeric: false, cell: (c) => c.verdict },
  { heading: 'why', numeric: false, cell: (c) => c.why },
];

export const TITLE = 'quorate compare';

/** The line under the command: what made this report and how long it took. */
export function runSentence(r: CompareReport): string {
  const engines = r.protocols.length === 0 ? '' : ` Engines: ${r.protocols.join(', ')}.`;
  return `quorate ${r.version}, seed ${r.seed}, ${r.quick ? 'quick' : 'full'} run: ${formatInteger(r.runs)} simulated runs in ${formatWallTime(r.wallSeconds)} of wall time.${engines}`;
}

export function cpuModelSentence(r: CompareReport): string {
  return `Model throughput charges a member ${formatTrimmed(r.cpuModel.microsPerMessage, 2)} µs of CPU for each message it sends or receives; the busiest member bounds the rate.`;
}

/** One paragraph saying what each column of the two tables means (the report's doc comments, in short). */
export function legendParagraph(r: CompareReport): string {
  return [
    'Engines: n is the number of members and f the faults the engine is built to tolerate at that size (crash: ⌊(n−1)/2⌋, Byzantine: ⌊(n−1)/3⌋).',
    '"live f / f+1 down" says whether writes still completed with f, then f+1, members down for good (with f+1 down the members left are a minority, as on the minority side of a partition: no engine should write there).',
    'msgs/op and bytes/op count the messages between members, and their encoded bytes, per completed client operation, fault-free on the LAN model.',
    'Delays are the one-way message delays on a client write\'s critical path, client to client, measured on the fixed-delay model; the protocol\'s round trips are those less the client\'s own two, halved.',
    'LAN and WAN p50 / p99 are client write latencies under each model.',
    `Model ops/s is the throughput when each message sent or received costs a member ${formatTrimmed(r.cpuModel.microsPerMessage, 2)} µs of CPU; busiest names the member that handles the most messages per operation, and how many.`,
    'New leader is the time from a leader\'s (or primary\'s) crash until another member was seen leading; failover, until a write invoked after the crash completed (so it includes the clients\' own timeouts: a client whose operation was at the crashed member waits 400 ms before it tries another); each the median of a few crashes seeds apart (3 in a quick report, 5 in a full one); partial-partition leader changes counts the leader changes while one link between the leader and one follower was cut both ways.',
    `Claims: the book's figure against what quorate's engines gave; the verdict holds, differs, or is not measured, and "why" names the runs behind it. ${DASH} means not measured (or, for failover, that no operation completed).`,
  ].join(' ');
}

/** The heading and the sentence before the list of runs that failed a simulator check (findings). */
export const FAILED_RUNS_HEADING = 'Runs that failed a check';
export function failedRunsSentence(report: CompareReport): string {
  return report.failedRuns.length === 0
    ? 'Every measuring run passed the simulator\'s checks (safety, and liveness where the run did not stop members for good).'
    : `${report.failedRuns.length} measuring run(s) failed a check of the simulator: findings about the engine, reproducible with the seed shown.`;
}

export function failedRunLine(f: CompareReport['failedRuns'][number]): string {
  return `${f.run}: ${f.kind}: ${f.message}`;
}
