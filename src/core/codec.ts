/**
 * MessagePack with reused encoder and decoder instances: the library's one-shot encode()
 * allocates a fresh encoder and its buffer per call, which showed up as garbage-collector time
 * on the write path (a few encodes per proposal on every member).
 */
import { Decoder, Encoder } from '@msgpack/msgpack';

const encoder = new Encoder();
const decoder = new Decoder();

/** Encode into a new, independent byte array. */
export function pack(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Encode into the shared encoder's buffer: the view is valid only until the next pack call.
 * For callers that copy the bytes at once (framing, records).
 */
export function packTransient(value: unknown): Uint8Array {
  return encoder.encodeSharedRef(value);
}

export function unpack(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
