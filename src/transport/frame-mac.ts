/**
 * Frame MACs on a peer connection with a cluster secret: the handshake (peer-secret.ts) proves
 * who is at each end; these make every frame after it provably theirs, in order.
 *
 * Each connection derives one key per direction from its handshake (peerFrameKey: the secret, both
 * member ids by role, the cluster id, both nonces), so no two connections and no two directions
 * share a key (peer connections carry frames from dialer to listener only, so the transport
 * derives the 'dialer-to-listener' key alone; the label keeps a reply direction's key distinct
 * should one ever be added). A frame after the handshake is
 *
 *   [u32 big-endian length L][payload: L - 16 bytes][tag: 16 bytes]
 *   tag = first 16 bytes of HMAC-SHA256(key, u64 big-endian counter | payload)
 *
 * where the counter is the frame's position on its connection in its direction (0 for the first
 * frame after the handshake), kept by both ends and never sent. So a frame altered, injected,
 * replayed (on this connection or from another: other key), reordered, or following a frame that
 * was dropped fails its tag, and the receiver closes the connection (the sender re-dials with
 * fresh nonces, hence fresh keys and counters from 0).
 *
 * Why a tag of 16 bytes: forging one is a 2^-128 guess, and every wrong guess costs the attacker a
 * connection with a new handshake (the tag never gets a second try at the same key and counter);
 * 16 bytes is what RFC 4868 truncates HMAC-SHA-256 to for IPsec. It halves the per-frame overhead.
 *
 * The tag is checked, in constant time, on the whole frame as the decoder reassembled it from any
 * TCP chunking, and before a byte of the payload is decoded.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { FRAME_HEADER_BYTES } from './frame.js';

/** Bytes of a frame's tag (truncated HMAC-SHA256; see the file comment for why 16 is enough). */
export const FRAME_MAC_BYTES = 16;

/**
 * Frames one direction of one connection may carry before the connection must be re-dialled
 * (new keys, counters from 0): the counter is a JavaScript number, exact up to 2^53 - 1, and
 * the wire format's is 64 bits, so it never wraps. At a million frames a second this is 285
 * years; tests set it low to see the re-dial.
 */
export const DEFAULT_MAX_FRAMES_PER_CONNECTION = Number.MAX_SAFE_INTEGER;

/** The tag of `payload` at `counter`; `scratch` (8 bytes, the caller's own) holds the counter's bytes. */
function tagOf(key: KeyObject, counter: number, payload: Uint8Array, scratch: Buffer): Buffer {
  // 64 bits big-endian; a safe integer's high word fits in 21 bits.
  scratch.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
  scratch.writeUInt32BE(counter >>> 0, 4);
  return createHmac('sha256', key).update(scratch).update(payload).digest().subarray(0, FRAME_MAC_BYTES);
}

/** The tag of `payload` as the frame at `counter` (for tests and tools: the sealer and opener keep their own key object). */
export function frameTag(key: Uint8Array, counter: number, payload: Uint8Array): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new Error(`a frame counter is a safe non-negative integer, got ${counter}`);
  return tagOf(createSecretKey(key), counter, payload, Buffer.alloc(8));
}

/**
 * A frame with room for its tag: the length prefix counts the tag, the tag bytes are zero until
 * FrameSealer.seal fills them in, on the connection that writes the frame (the counter is that
 * connection's, so a frame is sealed when it is written, not when it is queued).
 */
export function encodeSealableFrame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + payload.byteLength + FRAME_MAC_BYTES);
  out.writeUInt32BE(payload.byteLength + FRAME_MAC_BYTES, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** The key of a sealer or opener, once its key and frame budget are checked (both ends refuse the same). */
function checkedFrameKey(key: Uint8Array, maxFrames: number): KeyObject {
  if (key.byteLength < 32) throw new Error(`a frame key must be 32 bytes, got ${key.byteLength}`);
  if (!Number.isSafeInteger(maxFrames) || maxFrames < 1) throw new Error(`maxFrames must be a positive safe integer, got ${maxFrames}`);
  return createSecretKey(key);
}

/** The sending end of one direction of one connection. */
export class FrameSealer {
  /** Frames sealed so far: the counter of the next one. Never decreases; at most maxFrames. */
  private sealed = 0;
  private readonly key: KeyObject;
  private readonly scratch = Buffer.alloc(8);

  constructor(key: Uint8Array, private readonly maxFrames: number = DEFAULT_MAX_FRAMES_PER_CONNECTION) {
    this.key = checkedFrameKey(key, maxFrames);
  }

  /** How many more frames this connection may seal before it must be re-dialled. */
  remaining(): number {
    return this.maxFrames - this.sealed;
  }

  /** Fill in the tag of `frame` (from encodeSealableFrame), in place, with the next counter. */
  seal(frame: Buffer): void {
    if (this.sealed >= this.maxFrames) throw new Error(`assertion: a frame sealed past maxFrames=${this.maxFrames}`);
    const length = frame.readUInt32BE(0);
    if (length < FRAME_MAC_BYTES || FRAME_HEADER_BYTES + length !== frame.length) throw new Error('assertion: sealing a frame without room for its tag');
    const end = frame.length - FRAME_MAC_BYTES;
    tagOf(this.key, this.sealed, frame.subarray(FRAME_HEADER_BYTES, end), this.scratch).copy(frame, end);
    this.sealed++;
  }
}

/** Why a frame was refused: a sentence for the log line. */
export type OpenRefusal = string;

/** The receiving end of one direction of one connection. */
export class FrameOpener {
  /** Frames verified so far: the counter the next one must carry. Never decreases; at most maxFrames. */
  private opened = 0;
  private readonly key: KeyObject;
  private readonly scratch = Buffer.alloc(8);

  constructor(key: Uint8Array, private readonly maxFrames: number = DEFAULT_MAX_FRAMES_PER_CONNECTION) {
    this.key = checkedFrameKey(key, maxFrames);
  }

  /**
   * `body` is a whole frame's body as the decoder returned it (payload and tag): its payload if the
   * tag is the one for the next counter, else why not (the caller closes the connection: after one
   * bad frame no later frame on it can verify anyway, since the counters no longer agree).
   */
  open(body: Buffer): { readonly payload: Buffer } | { readonly refused: OpenRefusal } {
    const counter = this.opened;
    if (counter >= this.maxFrames) return { refused: `frame ${counter} is past the ${this.maxFrames} a connection may carry (the sender must re-dial)` };
    if (body.length < FRAME_MAC_BYTES) return { refused: `frame ${counter} is ${body.length} bytes, too short to carry its ${FRAME_MAC_BYTES}-byte MAC` };
    const end = body.length - FRAME_MAC_BYTES;
    const payload = body.subarray(0, end);
    const expected = tagOf(this.key, counter, payload, this.scratch);
    // Constant time: how much of a guessed tag was right must not show in how long the refusal took.
    if (!timingSafeEqual(body.subarray(end), expected)) {
      return { refused: `frame ${counter} failed its MAC (altered, injected, replayed or reordered on the path, or a frame before it was lost)` };
    }
    this.opened++;
    return { payload };
  }
}
