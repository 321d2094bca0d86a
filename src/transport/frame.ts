/**
 * Length-prefixed frames: [u32 big-endian length][payload]. The decoder accepts any chunking
 * and refuses a length above the limit before buffering a byte of the body.
 */
import { QuorateError } from '../core/errors.js';

export const FRAME_HEADER_BYTES = 4;

export class FrameTooLarge extends QuorateError {
  override readonly name = 'FrameTooLarge';
  constructor(length: number, limit: number) {
    super('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds maxFrameBytes=${limit}`);
  }
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  out.writeUInt32BE(payload.byteLength, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /**
   * An oversized length found after complete frames in the same chunk: those frames are returned
   * first (the handshake that names the peer may be one of them), then this is thrown.
   */
  tooLarge: FrameTooLarge | null = null;

  /**
   * Largest frame length accepted. It may be raised between frames (a listener takes only small
   * frames until its peer has authenticated): read frames one at a time with append and next so
   * that each is checked against the limit in force when it is taken.
   */
  constructor(public maxFrameBytes: number) {}

  /** Buffer `chunk` without taking frames out (see next). */
  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete frame, or null if its bytes have not all come; throws FrameTooLarge at a length over the limit. */
  next(): Buffer | null {
    if (this.buffered < FRAME_HEADER_BYTES) return null;
    const length = this.peek(FRAME_HEADER_BYTES).readUInt32BE(0);
    if (length > this.maxFrameBytes) {
      this.tooLarge = new FrameTooLarge(length, this.maxFrameBytes);
      throw this.tooLarge;
    }
    if (this.buffered < FRAME_HEADER_BYTES + length) return null;
    return this.take(FRAME_HEADER_BYTES + length).subarray(FRAME_HEADER_BYTES);
  }

  /**
   * Feed bytes; returns the complete frames they finish. Throws FrameTooLarge (at once, or, if
   * complete frames came before it, with the next push; `tooLarge` is set meanwhile).
   */
  push(chunk: Buffer): Buffer[] {
    if (this.tooLarge !== null) throw this.tooLarge;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) break;
      const head = this.peek(FRAME_HEADER_BYTES);
      const length = head.readUInt32BE(0);
      if (length > this.maxFrameBytes) {
        this.tooLarge = new FrameTooLarge(length, this.maxFrameBytes);
        if (frames.length === 0) throw this.tooLarge;
        break;
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      const all = this.take(FRAME_HEADER_BYTES + length);
      frames.push(all.subarray(FRAME_HEADER_BYTES));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered -= n;
    return out;
  }
}
