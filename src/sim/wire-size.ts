/**
 * A frame's size on the wire, as MessagePack would encode it (the peer transport's codec), or an
 * upper bound of it: what the simulator compares with its frame limit. Walking the value is far
 * cheaper than encoding it, and it stops as soon as the limit is passed.
 */

/** MessagePack's largest header for a string, binary, array or map; a number's largest encoding. */
const HEADER_BYTES = 5;
const NUMBER_BYTES = 9;

/** The encoded size of `value` if it is at most `limit`; otherwise some number above `limit`. */
export function wireBytesUpTo(value: unknown, limit: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total <= limit) {
    const v = stack.pop();
    if (v instanceof Uint8Array) total += HEADER_BYTES + v.byteLength;
    else if (typeof v === 'string') total += HEADER_BYTES + 3 * v.length; // UTF-8: at most 3 bytes per UTF-16 unit
    else if (typeof v === 'number' || typeof v === 'bigint') total += NUMBER_BYTES;
    else if (Array.isArray(v)) {
      total += HEADER_BYTES;
      for (const x of v) stack.push(x);
    } else if (v instanceof Map) {
      total += HEADER_BYTES;
      for (const [k, x] of v) stack.push(k, x);
    } else if (v !== null && typeof v === 'object') {
      total += HEADER_BYTES;
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) continue;
        total += HEADER_BYTES + 3 * k.length;
        stack.push(x);
      }
    } else total += 1; // null, boolean
  }
  return total;
}
