/**
 * The few HPACK (RFC 7541) primitives the client port needs to read and rewrite one header
 * field in place: prefixed integers (5.1), string literals (5.2) and the static Huffman code
 * (Appendix B). No header table is kept: see authority-filter.ts for why none is needed.
 */

/**
 * Code length in bits of each symbol 0..256 (256 is EOS), one base-36 digit each, from RFC 7541
 * Appendix B. The code is canonical (codes of one length are consecutive, in symbol order, and
 * follow on from the shorter ones), so the lengths are enough to rebuild every code.
 */
const CODE_LENGTHS =
  'dnsssssssoussussssssssusssssssss6aacd68baa8b8666555666666678f6cad67777777777777777777777878djde6f56565666577666567655677777fbedskmkkmmmnmnnnnnonoomnonnnnlmnmnnomlkmmnnlnmmolmnnllmlnmnnkmmmnmmnqqkjmnmpqqqrrqopjlqrrqrollqqsrrrkoklmllnmmppooqnqrqqrrrrrsrrrrrqu';
const EOS = 256;
/** Continuation bytes accepted in one prefixed integer (7 bits each): values up to 2^28 and more than any header needs. */
const MAX_INTEGER_CONTINUATIONS = 4;

interface Canonical {
  readonly lengths: readonly number[];
  readonly codes: readonly number[];
  /** Per code length: the first code of that length, and where its symbols start in `symbols`. */
  readonly firstCode: readonly number[];
  readonly firstIndex: readonly number[];
  readonly count: readonly number[];
  /** Symbols sorted by (length, symbol): the canonical order. */
  readonly symbols: readonly number[];
}

const HUFFMAN: Canonical = (() => {
  const lengths = [...CODE_LENGTHS].map((c) => parseInt(c, 36));
  const symbols = lengths.map((_, s) => s).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const codes: number[] = new Array<number>(lengths.length).fill(0);
  const maxLength = Math.max(...lengths);
  const firstCode = new Array<number>(maxLength + 1).fill(0);
  const firstIndex = new Array<number>(maxLength + 1).fill(0);
  const count = new Array<number>(maxLength + 1).fill(0);
  let code = 0;
  let length = lengths[symbols[0]!]!;
  symbols.forEach((s, i) => {
    const l = lengths[s]!;
    code *= 2 ** (l - length);
    length = l;
    if (count[l] === 0) {
      firstCode[l] = code;
      firstIndex[l] = i;
    }
    count[l]!++;
    codes[s] = code++;
  });
  return { lengths, codes, firstCode, firstIndex, count, symbols };
})();

/** The Huffman-coded form of `bytes`, padded with the most significant bits of EOS (all ones). */
export function huffmanEncode(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const l = HUFFMAN.lengths[b]!;
    // Codes are at most 30 bits: feed them a bit at a time to stay within exact integers.
    for (let i = l - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(HUFFMAN.codes[b]! / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | (0xff >> bits)) & 0xff);
  return Buffer.from(out);
}

/** The bytes a Huffman-coded string stands for, or null if it is not valid (EOS inside, bad padding). */
export function huffmanDecode(coded: Uint8Array): Buffer | null {
  const out: number[] = [];
  let code = 0;
  let length = 0;
  for (const byte of coded) {
    for (let i = 7; i >= 0; i--) {
      code = code * 2 + ((byte >> i) & 1);
      if (++length >= HUFFMAN.count.length) return null;
      const offset = code - HUFFMAN.firstCode[length]!;
      if (offset < 0 || offset >= HUFFMAN.count[length]!) continue;
      const symbol = HUFFMAN.symbols[HUFFMAN.firstIndex[length]! + offset]!;
      if (symbol === EOS) return null;
      out.push(symbol);
      code = 0;
      length = 0;
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (length >= 8 || code !== 2 ** length - 1) return null;
  return Buffer.from(out);
}

/** A prefixed integer (RFC 7541 5.1) at `pos`: its value and the position after it, or null if cut short. */
export function readInteger(block: Uint8Array, pos: number, prefixBits: number): { value: number; end: number } | null {
  if (pos >= block.length) return null;
  const max = (1 << prefixBits) - 1;
  let value = block[pos]! & max;
  let p = pos + 1;
  if (value < max) return { value, end: p };
  for (let shift = 0; shift <= 7 * MAX_INTEGER_CONTINUATIONS; shift += 7) {
    if (p >= block.length) return null;
    const b = block[p++]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, end: p };
  }
  return null;
}

/** A prefixed integer whose first byte carries `firstBits` above the prefix. */
export function writeInteger(value: number, prefixBits: number, firstBits: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstBits | value]);
  const out = [firstBits | max];
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** A string literal (RFC 7541 5.2) at `pos`: its bytes (Huffman decoded) and the position after it, or null. */
export function readString(block: Uint8Array, pos: number): { value: Buffer; end: number } | null {
  const length = readInteger(block, pos, 7);
  if (length === null || length.end + length.value > block.length) return null;
  const raw = block.subarray(length.end, length.end + length.value);
  const value = (block[pos]! & 0x80) === 0 ? Buffer.from(raw) : huffmanDecode(raw);
  return value === null ? null : { value, end: length.end + length.value };
}

/** A string literal, Huffman coded when that is shorter (as encoders do). */
export function writeString(value: Uint8Array): Buffer {
  const coded = huffmanEncode(value);
  return coded.length < value.length
    ? Buffer.concat([writeInteger(coded.length, 7, 0x80), coded])
    : Buffer.concat([writeInteger(value.length, 7, 0), value]);
}
