/**
 * The codec writes what @msgpack/msgpack writes and reads what it reads (the WAL, snapshot files
 * and wire frames depend on the bytes): checked against the library on edge values, on seeded
 * random values of every shape, and on malformed input (the same errors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { arrayHeader, headerAt, mapHeader, pack, packTransient, unpack, unpackAt } from '../../src/core/codec.js';
import { Prng, type Random } from '../../src/core/prng.js';

const library = { encode: (v: unknown) => new Encoder().encode(v), decode: (b: Uint8Array) => new Decoder().decode(b) };

const INTEGERS = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER, 2 ** 53,
  -1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -0x80000000, -0x80000001, -Number.MAX_SAFE_INTEGER, -(2 ** 53),
];
const OTHER_NUMBERS = [-0, 0.5, -1.25, 1e300, Number.MIN_VALUE, NaN, Infinity, -Infinity, 2 ** 64];
const STRINGS = ['', 'a', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(255), 'y'.repeat(256), 'z'.repeat(65535), 'z'.repeat(65536), 'héllo', '日本', '\ud800', 'a\udfffb', 'key\u007f'];

class Point {
  constructor(readonly x: number) {}
}

function edgeValues(): unknown[] {
  const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  return [
    null, undefined, true, false, ...INTEGERS, ...OTHER_NUMBERS, ...STRINGS,
    new Uint8Array(0), bytes.subarray(3, 40), new Uint8Array(0x10000), Buffer.from('buffer'), new Uint8Array(70000),
    [], [1, [2, [3]]], Array.from({ length: 15 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 70000 }, () => 0),
    // eslint-disable-next-line no-sparse-arrays
    [1, , 3],
    {}, { a: 1, b: undefined, c: null }, Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i])),
    Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])), Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`k${i}`, i])),
    { 2: 'two', 1: 'one', b: 'b' }, Object.assign(Object.create(null) as object, { n: 1 }), { 'ключ': 1 },
    new Date(0), new Map([[1, 2]]), new Set([1]), new Int16Array([1, -1]), new Point(3), { when: new Date(5) }, 10n, Symbol('s'), () => 1,
    nested(99), nested(100), nested(150),
  ];
}

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function randomValue(r: Random, depth: number): unknown {
  const kind = r.int(0, depth > 4 ? 6 : 9);
  switch (kind) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick(INTEGERS);
    case 3: return r.int(-70000, 70000);
    case 4: return r.chance(0.5) ? r.float() * 1e6 : r.pick(OTHER_NUMBERS);
    case 5: return r.chance(0.9) ? 'k'.repeat(r.int(0, 40)) : r.pick(STRINGS);
    case 6: return Uint8Array.from({ length: r.int(0, 300) }, () => r.int(0, 255));
    case 7: return Array.from({ length: r.int(0, 20) }, () => randomValue(r, depth + 1));
    case 8: return Object.fromEntries(Array.from({ length: r.int(0, 20) }, (_, i) => [r.chance(0.9) ? `f${i}` : r.pick(STRINGS), randomValue(r, depth + 1)]));
    default: return r.chance(0.5) ? undefined : new Date(r.int(0, 1e9));
  }
}

/** The outcome of a call: its value, or the error it threw (by class and message). */
function outcome(f: () => unknown): unknown {
  try {
    return { value: f() };
  } catch (err) {
    return { error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
}

function assertEncodesLikeLibrary(v: unknown, what: string): void {
  const expected = outcome(() => library.encode(v));
  assert.deepStrictEqual(outcome(() => pack(v)), expected, `pack(${what})`);
  assert.deepStrictEqual(outcome(() => packTransient(v).slice()), expected, `packTransient(${what})`);
  const bytes = (expected as { value?: Uint8Array }).value;
  if (bytes !== undefined) {
    assert.deepStrictEqual(outcome(() => unpack(bytes)), outcome(() => library.decode(bytes)), `unpack(pack(${what}))`);
    const asBuffer = Buffer.from(bytes);
    assert.deepStrictEqual(outcome(() => unpack(asBuffer)), outcome(() => library.decode(asBuffer)), `unpack(Buffer of ${what})`);
  }
}

function assertDecodesLikeLibrary(bytes: Uint8Array, what: string): void {
  assert.deepStrictEqual(outcome(() => unpack(bytes)), outcome(() => library.decode(bytes)), `unpack(${what})`);
}

test('edge values encode and decode exactly as the library does', () => {
  for (const [i, v] of edgeValues().entries()) assertEncodesLikeLibrary(v, `edge value ${i}`);
});

test('seeded random values encode and decode exactly as the library does', () => {
  const r = new Prng(2024);
  for (let i = 0; i < 3000; i++) assertEncodesLikeLibrary(randomValue(r, 0), `random value ${i}`);
});

test('malformed, truncated and foreign input decodes (or fails) exactly as the library does', () => {
  const r = new Prng(7);
  const samples: Uint8Array[] = [
    new Uint8Array([0xc1]), new Uint8Array([0x81, 0x01, 0x02]), new Uint8Array([0x81, 0xa9, ...Buffer.from('__proto__'), 0x01]),
    new Uint8Array([0x81, 0xc0, 0x01]), new Uint8Array([0xd4, 0x01, 0x02]), new Uint8Array([0x01, 0x02]), new Uint8Array(0),
    new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), new Uint8Array([0xc6, 0x00, 0x10, 0x00, 0x00, 0x01]), new Uint8Array([0xa3, 0x61, 0xff, 0x62]),
  ];
  for (let i = 0; i < 300; i++) {
    const good = library.encode(randomValue(r, 0));
    samples.push(good.subarray(0, r.int(0, good.length)));
    const flipped = good.slice();
    if (flipped.length > 0) flipped[r.int(0, flipped.length - 1)] = r.int(0, 255);
    samples.push(flipped);
    samples.push(Uint8Array.from({ length: r.int(1, 40) }, () => r.int(0, 255)));
  }
  for (const [i, bytes] of samples.entries()) assertDecodesLikeLibrary(bytes, `sample ${i}`);
});

test('a packTransient view is overwritten by the next pack; pack returns independent bytes', () => {
  const a = pack({ a: 1 });
  const t = packTransient({ a: 1 });
  assert.deepStrictEqual(t.slice(), a);
  packTransient({ a: 2 });
  assert.deepStrictEqual(a, library.encode({ a: 1 }));
});

test('arrayHeader and mapHeader write what pack writes before the elements, at every size class', () => {
  for (const n of [0, 1, 15, 16, 255, 256, 65535, 65536, 70000]) {
    const items = Array.from({ length: n }, (_, i) => i % 3);
    assert.deepEqual(Uint8Array.from([...arrayHeader(n), ...items.flatMap((i) => [...pack(i)])]), pack(items), `array of ${n}`);
    const map = Object.fromEntries(items.map((v, i) => [`k${i}`, v]));
    const body = Object.entries(map).flatMap(([k, v]) => [...pack(k), ...pack(v)]);
    assert.deepEqual(Uint8Array.from([...mapHeader(n), ...body]), pack(map), `map of ${n}`);
  }
});

test('bytes handed out by pack stay as they were after later encodings, large ones included', () => {
  // A value over the size at which the shared buffer is let go, then small ones that reuse it.
  const large = { v: new Uint8Array(3 * 1024 * 1024).fill(0xab) };
  const first = pack(large);
  const copy = Uint8Array.from(first);
  const second = pack({ v: new Uint8Array(2 * 1024 * 1024).fill(0x11) });
  pack({ small: 'x' });
  packTransient({ other: new Uint8Array(5000).fill(0x22) });
  const third = pack(large);
  pack({ v: new Uint8Array(4 * 1024 * 1024).fill(0x33) });
  assert.deepEqual(first, copy);
  assert.deepEqual(third, copy);
  assert.deepEqual(unpack(second), { v: new Uint8Array(2 * 1024 * 1024).fill(0x11) });
  assert.ok(!(first instanceof Buffer) && !(third instanceof Buffer), 'plain byte arrays, whose slice() copies');
});

test('unpackAt reads each element of an array where it starts, as unpack reads it whole; headerAt reads the header', () => {
  // The edge values the library encodes as an element of an array (not too deep, no foreign types).
  const values = edgeValues().filter((v) => 'value' in (outcome(() => library.encode([v])) as object));
  assert.ok(values.length > 50, `${values.length} edge values`);
  const r = new Prng(12);
  for (let i = 0; i < 200; i++) values.push(randomValue(r, 0));
  for (const n of [0, 5, 16, values.length]) {
    const elements = values.slice(0, n);
    const bytes = library.encode(elements);
    const header = headerAt(bytes, 0, 'array');
    assert.ok(header !== null, `an array header at ${n}`);
    assert.equal(header.length, n);
    assert.equal(headerAt(bytes, 0, 'map'), null, 'no map header there');
    let at = header.end;
    for (let k = 0; k < n; k++) {
      const { value, end } = unpackAt(bytes, at);
      assert.deepEqual(value, library.decode(library.encode(elements[k])), `element ${k} of ${n}`);
      assert.equal(end - at, library.encode(elements[k]).byteLength, `element ${k} ends where its encoding does`);
      at = end;
    }
    assert.equal(at, bytes.byteLength);
  }
  const map = library.encode(Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`k${i}`, i])));
  assert.deepEqual(headerAt(map, 0, 'map'), { length: 70000, end: 5 });
});

test('unpackAt throws on a value cut short, through its own decoding and the library\'s alike', () => {
  for (const v of [[1, 2, 'abc'], ['héllo', new Uint8Array(40)], { 'ключ': [1, 2, 3] }, 'x'.repeat(300)]) {
    const bytes = library.encode(v);
    for (let cut = 0; cut < bytes.byteLength; cut++) {
      assert.throws(() => unpackAt(bytes.subarray(0, cut), 0), /truncated or corrupt/, `${JSON.stringify(v)} cut at ${cut}`);
    }
  }
  assert.throws(() => unpackAt(Uint8Array.of(0xc1), 0), /truncated or corrupt/, 'a byte that is no type');
  assert.equal(headerAt(Uint8Array.of(0xdc, 1), 0, 'array'), null, 'a header cut short');
});

test('input nested deeper than pack can write (100 levels) is refused before it is decoded; 100 levels decode as the library does', () => {
  // `levels` arrays of one element around nil: the library's encoder writes at most 100 levels (nil at 100).
  const arrays = (levels: number, leaf: readonly number[] = [0xc0]): Uint8Array => new Uint8Array([...new Array<number>(levels).fill(0x91), ...leaf]);
  assert.deepStrictEqual(outcome(() => unpack(arrays(99))), outcome(() => library.decode(arrays(99))));
  assert.throws(() => library.encode(library.decode(arrays(100))), /Too deep/, 'the library writes no deeper');
  assert.throws(() => unpack(arrays(100)), /nested deeper than 100 levels/);
  // Through the library's path too (a non-ASCII string at the bottom), and a map in between.
  const withText = arrays(150, [0xa2, 0xc3, 0xa9]);
  assert.equal((library.decode(withText) as unknown[]).length, 1, 'the library decodes it');
  assert.throws(() => unpack(withText), /nested deeper than 100 levels/);
  assert.throws(() => unpack(new Uint8Array([0x81, 0xa1, 0x78, ...arrays(120)])), /nested deeper than 100 levels/);
  // A hostile frame's depth: refused after a header walk bounded by 100 levels, not decoded.
  assert.throws(() => unpack(arrays(1_500_000)), /nested deeper than 100 levels/);
  assert.throws(() => unpackAt(arrays(200), 0), /nested deeper than 100 levels/);
  // Truncated input that is not too deep still fails as the library fails.
  assertDecodesLikeLibrary(arrays(50, []), 'fifty arrays cut before their element');
});
