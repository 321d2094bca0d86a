/**
 * A frame's size on the wire, as MessagePack would encode it (the peer transport's codec), or an
 * upper bound of it: what the simulator compares with its frame limit. Walking the value is far
 * cheaper than encoding it, and it stops as soon as the limit is passed.
 */

/** MessagePack's largest header for a string, binary, array or map; a number's largest encoding. */
const HEADER_BYTES = 5;
const NUMBER_BYTES = 9;

/**
 * The encoded size of `value` if it is at most `limit`; otherwise some number above `limit`.
 * Every honest frame goes through here: a recursive walk allocates nothing (an explicit stack was
 * an array per frame, grown per element, and a pair per map entry).
 */
export function wireBytesUpTo(value: unknown, limit: number): number {
  return sizeUpTo(value, 0, limit);
}

/** `total` plus the size of `v`, stopping once past `limit`. One typeof per value: numbers, the commonest, go first. */
function sizeUpTo(v: unknown, total: number, limit: number): number {
  if (total > limit) return total;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return total + NUMBER_BYTES;
    case 'string':
      return total + HEADER_BYTES + 3 * v.length; // UTF-8: at most 3 bytes per UTF-16 unit
    case 'object':
      if (v === null) return total + 1;
      if (v instanceof Uint8Array) return total + HEADER_BYTES + v.byteLength;
      if (Array.isArray(v)) {
        total += HEADER_BYTES;
        for (let i = 0; i < v.length && total <= limit; i++) {
          const x: unknown = v[i];
          total = typeof x === 'number' ? total + NUMBER_BYTES : sizeUpTo(x, total, limit);
        }
        return total;
      }
      if (v instanceof Map) {
        total += HEADER_BYTES;
        for (const k of v.keys()) {
          if (total > limit) break;
          total = sizeUpTo(v.get(k), sizeUpTo(k, total, limit), limit);
        }
        return total;
      }
      total += HEADER_BYTES;
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        // The scalar fields a message is mostly made of are sized here, as sizeUpTo would size
        // them, without a call: a frame has about ten, and the calls were most of the walk.
        switch (typeof x) {
          case 'undefined':
            continue;
          case 'number':
            total += HEADER_BYTES + 3 * k.length + NUMBER_BYTES;
            continue;
          case 'string':
            total += HEADER_BYTES + 3 * k.length + HEADER_BYTES + 3 * x.length;
            continue;
          case 'boolean':
            total += HEADER_BYTES + 3 * k.length + 1;
            continue;
          default:
            total = sizeUpTo(x, total + HEADER_BYTES + 3 * k.length, limit);
            if (total > limit) return total;
        }
      }
      return total;
    default:
      return total + 1; // boolean, undefined (a hole)
  }
}
