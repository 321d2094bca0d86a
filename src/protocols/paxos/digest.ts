/**
 * A digest of a snapshot's bytes, so that an acceptor can tell one leader's encoding of a state
 * from another's and never installs data assembled from both (a state machine's encoding is not
 * promised to be canonical across members). It guards against honest differences and corruption,
 * not against a forger: 64 bits from two FNV-1a lanes with different offsets and a final mix, as
 * 16 hex characters. Pure and deterministic: the same bytes give the same digest on every member.
 */
export function snapshotDigest(data: Uint8Array): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ data.byteLength;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    a = Math.imul(a ^ x, 0x01000193);
    b = Math.imul(b ^ x, 0x5bd1e995) ^ (b >>> 15);
  }
  return hex32(mix(a ^ data.byteLength)) + hex32(mix(b));
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hex32(x: number): string {
  return x.toString(16).padStart(8, '0');
}
