/** Where the seals of a segment's writes start (its bytes as written), for tests that damage a write or its seal. */
import { readRecord, RecordType } from '../../src/storage/record.js';

export function sealStarts(buf: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; ; ) {
    const r = readRecord(buf, o);
    if (r.kind !== 'record') return out;
    if (r.type === RecordType.Seal) out.push(o);
    o = r.next;
  }
}

/** Where the last write's seal starts. */
export function lastSealStart(buf: Buffer): number {
  const s = sealStarts(buf);
  if (s.length === 0) throw new Error('the segment holds no seal');
  return s[s.length - 1]!;
}
