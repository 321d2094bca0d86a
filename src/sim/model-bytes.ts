/**
 * A growable byte array for the model file system: a file's content in the page cache or on the
 * platter. Writes past the end leave zeros in between, as a sparse file reads.
 */
import { assert } from '../core/assert.js';

/** Room a new content starts with: a WAL segment grows to kilobytes in small appends, and each growth copies it. */
const INITIAL_CAPACITY_BYTES = 4096;
/** How much a full content grows by (a segment reaches tens of kilobytes in two or three steps). */
const GROWTH_FACTOR = 4;

/**
 * Room for `bytes` bytes, not zeroed: nothing past `size` is ever read before it is written (write
 * and truncate zero what they expose), and zeroing was most of the model's allocation cost (a
 * snapshot file or a segment's growth is hundreds of kilobytes, zeroed only to be overwritten).
 * A plain Uint8Array over the memory, not a Buffer: a Buffer's slice() is a view, not a copy.
 */
function uninitialized(bytes: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer, 0, bytes);
}

/** The room of a content nothing was written to yet (never written itself: reserve replaces it first). */
const NO_BYTES = new Uint8Array(0);

export class ModelBytes {
  /** The content in [0, size); what lies after it is garbage until written. */
  private buf: Uint8Array;
  private size = 0;

  constructor(initial?: Uint8Array) {
    // No room until the first write: it sizes the first allocation (a snapshot file's first write
    // is most of it, and a file created only to be renamed or removed never allocates).
    this.buf = NO_BYTES;
    if (initial !== undefined) this.write(0, initial);
  }

  get length(): number {
    return this.size;
  }

  /** The content (a view: valid until the next change). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.size);
  }

  copy(): ModelBytes {
    return new ModelBytes(this.view());
  }

  write(offset: number, data: Uint8Array): void {
    assert(Number.isInteger(offset) && offset >= 0, () => `write at ${offset}`);
    const end = offset + data.byteLength;
    this.reserve(end);
    if (offset > this.size) this.buf.fill(0, this.size, offset);
    this.buf.set(data, offset);
    this.size = Math.max(this.size, end);
  }

  truncate(length: number): void {
    assert(Number.isInteger(length) && length >= 0, () => `truncate to ${length}`);
    if (length > this.size) {
      this.reserve(length);
      this.buf.fill(0, this.size, length);
    }
    this.size = length;
  }

  flipBit(offset: number, bit: number): void {
    assert(offset >= 0 && offset < this.size && bit >= 0 && bit < 8, () => `flip bit ${bit} of byte ${offset} of ${this.size}`);
    this.buf[offset] = this.buf[offset]! ^ (1 << bit);
  }

  private reserve(bytes: number): void {
    if (bytes <= this.buf.byteLength) return;
    const next = uninitialized(Math.max(bytes, INITIAL_CAPACITY_BYTES, this.buf.byteLength * GROWTH_FACTOR));
    next.set(this.buf.subarray(0, this.size));
    this.buf = next;
  }
}
