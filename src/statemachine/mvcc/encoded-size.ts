/**
 * What a key's history takes in a snapshot, as pack() writes it (MessagePack sizes): the key index
 * keeps the sum as versions come and go, so a snapshot sizes its buffer at the start without a walk
 * over the store (see KvSnapshotEncoding).
 */
import type { KeyRevision } from './key-index.js';

/** One version: [main, sub, createRevision, version, value, lease]. */
export function encodedVersionBytes(r: KeyRevision): number {
  return 1 + uintBytes(r.main) + uintBytes(r.sub) + uintBytes(r.createRevision) + uintBytes(r.version) +
    (r.value === null ? 1 : binaryHeaderBytes(r.value.byteLength) + r.value.byteLength) + textBytes(r.lease);
}

/** A key's entry besides its versions: [key, [versions...]], with `versions` of them. */
export function encodedKeyBytes(key: string, versions: number): number {
  return 1 + textBytes(key) + arrayHeaderBytes(versions);
}

function uintBytes(n: number): number {
  return n < 0x80 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

function arrayHeaderBytes(n: number): number {
  return n < 16 ? 1 : n <= 0xffff ? 3 : 5;
}

function binaryHeaderBytes(n: number): number {
  return n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

/** A string: its UTF-8 bytes (a latin1 char above 0x7f takes two) and its header. */
function textBytes(text: string): number {
  let utf8 = text.length;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) utf8++;
  return (utf8 < 32 ? 1 : utf8 <= 0xff ? 2 : utf8 <= 0xffff ? 3 : 5) + utf8;
}
