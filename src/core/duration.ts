/**
 * Durations written as Go's time.ParseDuration reads them, which is how etcd's duration flags,
 * variables and config keys are written: a sign, then one or more decimal numbers each with a
 * unit (`500ms`, `1m30s`, `1h0m0s`, `1.5h`, `.5s`), or a bare `0`.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** One number and its unit. `ms` is tried before `m` and `s`, so `1ms` is not read as `1m` then `s`. */
const PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** The duration in milliseconds (negative if written so), or null when `text` is not one. */
export function parseGoDurationMs(text: string): number | null {
  const sign = text.startsWith('-') || text.startsWith('+') ? text.slice(0, 1) : '';
  const body = text.slice(sign.length);
  if (body === '0') return 0; // Go's one unitless duration
  if (body === '') return null;
  let total = 0;
  for (let at = 0; at < body.length; at = PART.lastIndex) {
    PART.lastIndex = at;
    const m = PART.exec(body);
    if (m === null) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return sign === '-' ? -total : total;
}
