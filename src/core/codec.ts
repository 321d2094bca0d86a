/**
 * MessagePack, byte for byte what @msgpack/msgpack writes and reads with its default options
 * (the WAL's records, snapshot files and wire frames keep their format).
 *
 * The values quorate encodes are plain: null, booleans, numbers, ASCII strings, Uint8Arrays,
 * arrays and plain objects. Those are encoded and decoded here directly, with one reused
 * buffer: the library's general path (an extension lookup per object, two UTF-8 passes per
 * string, a DataView and a state stack per decode) was most of the encoding cost on the write
 * path of every member. Anything else (a Date, a Map, another typed array, non-ASCII text,
 * extension types, malformed or truncated input, nesting deeper than MAX_DEPTH) is handed to
 * the library whole, so it is encoded, decoded or refused exactly as before.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';

const libraryEncoder = new Encoder();
const libraryDecoder = new Decoder();

/** The library's own nesting limit for encoding (its DEFAULT_MAX_DEPTH); deeper values go to it, which refuses them. */
const MAX_DEPTH = 100;
/** skipValue's answer for a value nested deeper than MAX_DEPTH (truncated or corrupt input: -1). */
const TOO_DEEP = -2;
const INITIAL_BUFFER_BYTES = 2048;
/**
 * The shared buffer grows to the largest value encoded; past this it is let go after use, so one
 * large snapshot does not keep hundreds of MiB alive for the life of the process.
 */
const KEEP_BUFFER_BYTES = 1024 * 1024;

// ---- encoding -----------------------------------------------------------------------------------

/** The buffer encodings go to: the shared one, or packInto's caller's while it runs. */
let out: Uint8Array = new Uint8Array(INITIAL_BUFFER_BYTES);
let pos = 0;
/** An encoding is running (a getter on a value could call pack again: that call goes to the library). */
let encoding = false;
/** `out` is packInto's caller's buffer, which does not grow: reserve throws NO_ROOM past its end. */
let bounded = false;
/** What reserve throws when packInto's caller's buffer is too short (not an Error: no stack is taken). */
const NO_ROOM: unique symbol = Symbol('no room');
/** Big-endian bytes of a float64 (a DataView of its own: the encoder writes `out` byte by byte). */
const float64View = new DataView(new ArrayBuffer(8));
const float64Bytes = new Uint8Array(float64View.buffer);

/** Encode into a new, independent byte array. */
export function pack(value: unknown): Uint8Array {
  if (!encodeHere(value)) return libraryEncoder.encode(value);
  const bytes = out.slice(0, pos);
  if (out.length > KEEP_BUFFER_BYTES) useBuffer(new Uint8Array(INITIAL_BUFFER_BYTES));
  return bytes;
}

/**
 * Encode into the shared buffer: the view is valid only until the next pack call.
 * For callers that copy the bytes at once (framing, records).
 */
export function packTransient(value: unknown): Uint8Array {
  if (!encodeHere(value)) return libraryEncoder.encode(value);
  return out.subarray(0, pos);
}

/**
 * Encode `value` into `target` from `offset`: for a writer that frames the encoding in a buffer of
 * its own (the WAL's write buffers), which then needs no copy of it nor a view of it. Returns where
 * the encoding ends, or -1 when it does not fit in `target` (its bytes from `offset` are then
 * unspecified: the caller grows it and calls again). `target` is a plain Uint8Array, not a
 * Buffer: the encoder's code then sees one kind of array, whoever calls it.
 */
export function packInto(value: unknown, target: Uint8Array, offset: number): number {
  if (!encoding) {
    const shared = out;
    encoding = true;
    bounded = true;
    out = target;
    pos = offset;
    try {
      if (encodeValue(value, 1)) return pos;
    } catch (e) {
      if (e !== NO_ROOM) throw e;
      return -1;
    } finally {
      out = shared;
      bounded = false;
      encoding = false;
    }
  }
  // Not one this module encodes (or an encoding is running): the library's bytes, copied in.
  const bytes = libraryEncoder.encode(value);
  if (offset + bytes.byteLength > target.byteLength) return -1;
  target.set(bytes, offset);
  return offset + bytes.byteLength;
}

/**
 * The header MessagePack writes before an array of `n` elements, and before a map of `n` entries:
 * for encoders that write the elements one at a time (a snapshot encoded in slices), so that
 * header + pack(e1) + ... + pack(en) is byte for byte pack([e1, ..., en]).
 */
export function arrayHeader(n: number): Uint8Array {
  return sizedHeader(n, 0x90, 0xdc, 0xdd);
}

export function mapHeader(n: number): Uint8Array {
  return sizedHeader(n, 0x80, 0xde, 0xdf);
}

/**
 * The header MessagePack writes before a byte array of `n` bytes: header + the bytes is byte for byte
 * pack(bytes), for encoders that copy a large byte array into place a slice at a time.
 */
export function binHeader(n: number): Uint8Array {
  if (!(Number.isSafeInteger(n) && n >= 0 && n < 0x1_0000_0000)) throw new Error(`a MessagePack byte array is 0 to 2^32 - 1 bytes, not ${n}`);
  if (n < 0x100) return Uint8Array.of(0xc4, n);
  if (n < 0x10000) return Uint8Array.of(0xc5, n >>> 8, n & 0xff);
  return Uint8Array.of(0xc6, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function sizedHeader(n: number, fix: number, tag16: number, tag32: number): Uint8Array {
  if (n < 16) return Uint8Array.of(fix + n);
  if (n < 0x10000) return Uint8Array.of(tag16, n >>> 8, n & 0xff);
  return Uint8Array.of(tag32, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * Decode one value. Input nested deeper than MAX_DEPTH is refused before it is decoded: nothing
 * pack writes nests deeper (the library's encoder refuses to), and the library decodes any depth,
 * about 1.5 µs a level: a peer's command with one field nested 1.5 million deep cost every member
 * seconds, first at the leader's shape check, then at apply.
 */
export function unpack(bytes: Uint8Array): unknown {
  const value = decodeHere(bytes);
  if (value !== UNSUPPORTED) return value;
  if (bytes instanceof Uint8Array && skipValue(bytes, 0, 1) === TOO_DEEP) throw new Error(tooDeep(0));
  return libraryDecoder.decode(bytes);
}

function tooDeep(offset: number): string {
  return `MessagePack value at byte ${offset} nested deeper than ${MAX_DEPTH} levels (nothing this codec writes is)`;
}

/**
 * Positional decoding, for decoders that walk a large value one element at a time (a snapshot
 * restored in slices): the value that starts at `offset` and the offset just past it. A value this
 * module does not decode itself (non-ASCII text, extension types) is measured here and handed to
 * the library; input that is truncated or no MessagePack there throws.
 */
export function unpackAt(bytes: Uint8Array, offset: number): { readonly value: unknown; readonly end: number } {
  const here = decodeHere(bytes, offset);
  if (here !== UNSUPPORTED) return here;
  const end = skipValue(bytes, offset, 1);
  if (end === TOO_DEEP) throw new Error(tooDeep(offset));
  if (end < 0) throw new Error(`no whole MessagePack value at byte ${offset} of ${bytes.byteLength} (truncated or corrupt)`);
  return { value: libraryDecoder.decode(bytes.subarray(offset, end)), end };
}

/**
 * The header of a map or an array at `offset` (what mapHeader/arrayHeader write): its number of
 * entries and where the first begins; null if no header of that kind is there.
 */
export function headerAt(bytes: Uint8Array, offset: number, kind: 'map' | 'array'): { readonly length: number; readonly end: number } | null {
  const fix = kind === 'map' ? 0x80 : 0x90;
  const tag16 = kind === 'map' ? 0xde : 0xdc;
  const head = bytes[offset];
  if (head === undefined) return null;
  if (head >= fix && head < fix + 16) return { length: head - fix, end: offset + 1 };
  if (head === tag16 && offset + 3 <= bytes.length) return { length: (bytes[offset + 1]! << 8) | bytes[offset + 2]!, end: offset + 3 };
  if (head === tag16 + 1 && offset + 5 <= bytes.length) {
    return { length: bytes[offset + 1]! * 0x1000000 + ((bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 8) | bytes[offset + 4]!), end: offset + 5 };
  }
  return null;
}

/** Encode `value` into `out` from the start; false if it is not one this module handles. */
function encodeHere(value: unknown): boolean {
  if (encoding) return false;
  encoding = true;
  try {
    pos = 0;
    return encodeValue(value, 1);
  } finally {
    encoding = false;
  }
}

function reserve(bytes: number): void {
  if (pos + bytes <= out.length) return;
  if (bounded) throw NO_ROOM;
  // Not cleared: only [0, pos) is ever read or handed out, and clearing hundreds of MiB is not free.
  const next = Buffer.allocUnsafeSlow(Math.max(pos + bytes, out.length * 2));
  next.set(out.subarray(0, pos));
  useBuffer(next);
}

function useBuffer(buffer: Uint8Array): void {
  // A plain Uint8Array over it: Buffer's slice() is a view, not the copy pack() hands out.
  out = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function encodeValue(v: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  if (v === null || v === undefined) {
    reserve(1);
    out[pos++] = 0xc0;
    return true;
  }
  switch (typeof v) {
    case 'boolean':
      reserve(1);
      out[pos++] = v ? 0xc3 : 0xc2;
      return true;
    case 'number':
      encodeNumber(v);
      return true;
    case 'string':
      return encodeString(v);
    case 'object':
      if (Array.isArray(v)) return encodeArray(v as readonly unknown[], depth);
      if (v instanceof Uint8Array) {
        encodeBinary(v);
        return true;
      }
      {
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return false;
      }
      return encodeMap(v as Record<string, unknown>, depth);
    default:
      return false;
  }
}

/** No 8-bit form of this type (arrays and maps go from their fix form straight to 16 bits). */
const NO_TAG = -1;

/**
 * `n` (below 2^32, the caller's room reserved) as the smallest of MessagePack's sized forms: a
 * type byte then 1, 2 or 4 big-endian bytes. Every length header and unsigned integer is one.
 */
function writeSized(n: number, tag8: number, tag16: number, tag32: number): void {
  if (n < 0x100 && tag8 !== NO_TAG) {
    out[pos] = tag8;
    out[pos + 1] = n;
    pos += 2;
  } else if (n < 0x10000) {
    out[pos] = tag16;
    out[pos + 1] = n >>> 8;
    out[pos + 2] = n & 0xff;
    pos += 3;
  } else {
    out[pos] = tag32;
    writeUint32(n, pos + 1);
    pos += 5;
  }
}

/**
 * ToUint32(n) as 4 big-endian bytes at `at` (what DataView's setUint32 writes; `out` has no
 * DataView: packInto's caller's buffer would need one made per call).
 */
function writeUint32(n: number, at: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

function encodeNumber(v: number): void {
  reserve(9);
  if (!Number.isSafeInteger(v)) {
    out[pos] = 0xcb;
    float64View.setFloat64(0, v);
    out.set(float64Bytes, pos + 1);
    pos += 9;
  } else if (v >= 0) {
    if (v < 0x80) {
      out[pos++] = v;
    } else if (v < 0x100000000) {
      writeSized(v, 0xcc, 0xcd, 0xce);
    } else {
      out[pos] = 0xcf;
      writeUint32(Math.floor(v / 0x100000000), pos + 1);
      writeUint32(v % 0x100000000, pos + 5);
      pos += 9;
    }
  } else if (v >= -0x20) {
    out[pos++] = 0xe0 | (v + 0x20);
  } else if (v >= -0x80) {
    // Two's complement: the low bytes of v (what setInt8/16/32 write).
    out[pos] = 0xd0;
    out[pos + 1] = v & 0xff;
    pos += 2;
  } else if (v >= -0x8000) {
    out[pos] = 0xd1;
    out[pos + 1] = (v >> 8) & 0xff;
    out[pos + 2] = v & 0xff;
    pos += 3;
  } else if (v >= -0x80000000) {
    out[pos] = 0xd2;
    writeUint32(v, pos + 1);
    pos += 5;
  } else {
    // The high word (negative) and the low word, each modulo 2^32, as setUint32 wrote them.
    out[pos] = 0xd3;
    writeUint32(Math.floor(v / 0x100000000), pos + 1);
    writeUint32(v, pos + 5);
    pos += 9;
  }
}

/** An ASCII string (its UTF-8 is its char codes); false for any other. */
function encodeString(s: string): boolean {
  const n = s.length;
  reserve(5 + n);
  if (n < 32) out[pos++] = 0xa0 + n;
  else writeSized(n, 0xd9, 0xda, 0xdb);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return false;
    out[pos++] = c;
  }
  return true;
}

function encodeBinary(b: Uint8Array): void {
  const n = b.byteLength;
  reserve(5 + n);
  writeSized(n, 0xc4, 0xc5, 0xc6);
  out.set(b, pos);
  pos += n;
}

function encodeArray(a: readonly unknown[], depth: number): boolean {
  const n = a.length;
  reserve(5);
  if (n < 16) out[pos++] = 0x90 + n;
  else writeSized(n, NO_TAG, 0xdc, 0xdd);
  for (let i = 0; i < n; i++) if (!encodeValue(a[i], depth + 1)) return false;
  return true;
}

function encodeMap(o: Record<string, unknown>, depth: number): boolean {
  const keys = Object.keys(o);
  const n = keys.length;
  reserve(5);
  if (n < 16) out[pos++] = 0x80 + n;
  else writeSized(n, NO_TAG, 0xde, 0xdf);
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
    if (!encodeString(key) || !encodeValue(o[key], depth + 1)) return false;
  }
  return true;
}

// ---- decoding -----------------------------------------------------------------------------------

/** "Not handled here": the library decodes (or refuses) the whole input. */
const UNSUPPORTED: unique symbol = Symbol('unsupported');
type Decoded = unknown;

/**
 * The bytes being decoded, always as a plain Uint8Array (a Buffer is read through a view of it:
 * reads then see one kind of array, not two); binary values are cut from `source`, the caller's
 * own array, so a Buffer's come out as Buffers, as the library returns them.
 */
let input: Uint8Array = new Uint8Array(0);
let source: Uint8Array = input;
let at = 0;
/** A DataView of the input, made only when a float is met. */
let inputView: DataView | null = null;
let decoding = false;

function decodeHere(bytes: Uint8Array): Decoded;
function decodeHere(bytes: Uint8Array, offset: number): { value: unknown; end: number } | typeof UNSUPPORTED;
/** The whole of `bytes`; or, given `offset`, the one value there and where it ends. */
function decodeHere(bytes: Uint8Array, offset?: number): Decoded {
  if (decoding || !(bytes instanceof Uint8Array)) return UNSUPPORTED;
  decoding = true;
  try {
    source = bytes;
    input = Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    at = offset ?? 0;
    inputView = null;
    const value = decodeValue(1);
    if (offset !== undefined) return value === UNSUPPORTED ? UNSUPPORTED : { value, end: at };
    return at === bytes.length ? value : UNSUPPORTED;
  } finally {
    decoding = false;
    input = EMPTY;
    source = EMPTY;
    inputView = null;
  }
}

const EMPTY = new Uint8Array(0);

/** Big-endian unsigned integer of `bytes` bytes at `at` (the caller checked they are there). */
function uint(bytes: 1 | 2 | 4): number {
  const b = input;
  const i = at;
  at += bytes;
  if (bytes === 1) return b[i]!;
  if (bytes === 2) return (b[i]! << 8) | b[i + 1]!;
  return b[i]! * 0x1000000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
}

function view(): DataView {
  return (inputView ??= new DataView(input.buffer, input.byteOffset, input.byteLength));
}

function has(bytes: number): boolean {
  return at + bytes <= input.length;
}

function decodeValue(depth: number): Decoded {
  if (depth > MAX_DEPTH || !has(1)) return UNSUPPORTED;
  const head = input[at++]!;
  if (head < 0x80) return head;
  if (head >= 0xe0) return head - 0x100;
  if (head < 0x90) return decodeMap(head - 0x80, depth);
  if (head < 0xa0) return decodeArray(head - 0x90, depth);
  if (head < 0xc0) return decodeString(head - 0xa0);
  switch (head) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return has(1) ? decodeBinary(uint(1)) : UNSUPPORTED;
    case 0xc5:
      return has(2) ? decodeBinary(uint(2)) : UNSUPPORTED;
    case 0xc6:
      return has(4) ? decodeBinary(uint(4)) : UNSUPPORTED;
    case 0xca: {
      if (!has(4)) return UNSUPPORTED;
      const v = view().getFloat32(at);
      at += 4;
      return v;
    }
    case 0xcb: {
      if (!has(8)) return UNSUPPORTED;
      const v = view().getFloat64(at);
      at += 8;
      return v;
    }
    case 0xcc:
      return has(1) ? uint(1) : UNSUPPORTED;
    case 0xcd:
      return has(2) ? uint(2) : UNSUPPORTED;
    case 0xce:
      return has(4) ? uint(4) : UNSUPPORTED;
    case 0xcf: {
      if (!has(8)) return UNSUPPORTED;
      const high = uint(4);
      return high * 0x100000000 + uint(4);
    }
    case 0xd0:
      return has(1) ? (uint(1) << 24) >> 24 : UNSUPPORTED;
    case 0xd1:
      return has(2) ? (uint(2) << 16) >> 16 : UNSUPPORTED;
    case 0xd2:
      return has(4) ? uint(4) | 0 : UNSUPPORTED;
    case 0xd3: {
      if (!has(8)) return UNSUPPORTED;
      const high = uint(4) | 0;
      return high * 0x100000000 + uint(4);
    }
    case 0xd9:
      return has(1) ? decodeString(uint(1)) : UNSUPPORTED;
    case 0xda:
      return has(2) ? decodeString(uint(2)) : UNSUPPORTED;
    case 0xdb:
      return has(4) ? decodeString(uint(4)) : UNSUPPORTED;
    case 0xdc:
      return has(2) ? decodeArray(uint(2), depth) : UNSUPPORTED;
    case 0xdd:
      return has(4) ? decodeArray(uint(4), depth) : UNSUPPORTED;
    case 0xde:
      return has(2) ? decodeMap(uint(2), depth) : UNSUPPORTED;
    case 0xdf:
      return has(4) ? decodeMap(uint(4), depth) : UNSUPPORTED;
    default:
      return UNSUPPORTED; // extension types, and bytes that are not a type
  }
}

/** Strings longer than this are made by a TextDecoder (shorter ones char by char: a native call costs more). */
const SHORT_STRING_BYTES = 24;
const textDecoder = new TextDecoder();
/**
 * Short strings decoded lately, by a hash of their bytes: map keys and enumerations ('index',
 * 'term', 'command', ...) repeat in every record, and comparing is cheaper than building.
 */
const recentStrings: (string | undefined)[] = new Array<string | undefined>(1024).fill(undefined);

/** An ASCII string of `n` bytes at `at` (anything else: unsupported). */
function decodeString(n: number): Decoded {
  if (!has(n)) return UNSUPPORTED;
  const b = input;
  const start = at;
  const end = start + n;
  let h = n;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 0x80) return UNSUPPORTED;
    h = (Math.imul(h, 31) + c) | 0;
  }
  at = end;
  if (n > SHORT_STRING_BYTES) return textDecoder.decode(b.subarray(start, end));
  const slot = h & (recentStrings.length - 1);
  const recent = recentStrings[slot];
  if (recent !== undefined && recent.length === n && sameChars(recent, b, start)) return recent;
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  recentStrings[slot] = s;
  return s;
}

function sameChars(s: string, b: Uint8Array, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[start + i]) return false;
  return true;
}

/** Binary data: a view of the input, as the library returns it. */
function decodeBinary(n: number): Decoded {
  if (!has(n)) return UNSUPPORTED;
  const start = at;
  at += n;
  return source.subarray(start, at);
}

function decodeArray(n: number, depth: number): Decoded {
  // Every element takes at least a byte: a longer claim is truncated input.
  if (!has(n)) return UNSUPPORTED;
  const a: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const v = decodeValue(depth + 1);
    if (v === UNSUPPORTED) return UNSUPPORTED;
    a.push(v);
  }
  return a;
}

/** A map with ASCII string keys (other keys, and the key __proto__, are the library's to judge). */
function decodeMap(n: number, depth: number): Decoded {
  if (!has(2 * n)) return UNSUPPORTED;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    if (!has(1)) return UNSUPPORTED;
    const head = input[at]!;
    if (head < 0xa0 || (head >= 0xc0 && head !== 0xd9 && head !== 0xda && head !== 0xdb)) return UNSUPPORTED;
    const key = decodeValue(depth + 1);
    if (typeof key !== 'string' || key === '__proto__') return UNSUPPORTED;
    const v = decodeValue(depth + 1);
    if (v === UNSUPPORTED) return UNSUPPORTED;
    o[key] = v;
  }
  return o;
}

/**
 * Where the value at `offset` ends, by its headers alone (-1: truncated, or no MessagePack there;
 * TOO_DEEP: nested deeper than MAX_DEPTH): what unpackAt hands the library for a value this module
 * does not decode, and unpack's depth check. Its recursion is bounded by MAX_DEPTH.
 */
function skipValue(b: Uint8Array, offset: number, depth: number): number {
  if (depth > MAX_DEPTH) return TOO_DEEP;
  if (offset >= b.length) return -1;
  const head = b[offset]!;
  let i = offset + 1;
  const sized = (bytes: number): number => {
    if (i + bytes > b.length) return -1;
    let n = 0;
    for (let k = 0; k < bytes; k++) n = n * 256 + b[i + k]!;
    i += bytes;
    return n;
  };
  const payload = (n: number): number => (n < 0 || i + n > b.length ? -1 : i + n);
  const elements = (n: number): number => {
    if (n < 0) return -1;
    for (let k = 0; k < n; k++) {
      i = skipValue(b, i, depth + 1);
      if (i < 0) return i;
    }
    return i;
  };
  if (head < 0x80 || head >= 0xe0) return i;
  if (head < 0x90) return elements(2 * (head - 0x80));
  if (head < 0xa0) return elements(head - 0x90);
  if (head < 0xc0) return payload(head - 0xa0);
  switch (head) {
    case 0xc0: case 0xc2: case 0xc3: return i;
    case 0xc4: case 0xd9: return payload(sized(1));
    case 0xc5: case 0xda: return payload(sized(2));
    case 0xc6: case 0xdb: return payload(sized(4));
    case 0xc7: { const n = sized(1); return n < 0 ? -1 : payload(n + 1); }
    case 0xc8: { const n = sized(2); return n < 0 ? -1 : payload(n + 1); }
    case 0xc9: { const n = sized(4); return n < 0 ? -1 : payload(n + 1); }
    case 0xca: return payload(4);
    case 0xcb: return payload(8);
    case 0xcc: case 0xd0: return payload(1);
    case 0xcd: case 0xd1: return payload(2);
    case 0xce: case 0xd2: return payload(4);
    case 0xcf: case 0xd3: return payload(8);
    case 0xd4: return payload(2);
    case 0xd5: return payload(3);
    case 0xd6: return payload(5);
    case 0xd7: return payload(9);
    case 0xd8: return payload(17);
    case 0xdc: return elements(sized(2));
    case 0xdd: return elements(sized(4));
    case 0xde: { const n = sized(2); return n < 0 ? -1 : elements(2 * n); }
    case 0xdf: { const n = sized(4); return n < 0 ? -1 : elements(2 * n); }
    default: return -1;
  }
}
