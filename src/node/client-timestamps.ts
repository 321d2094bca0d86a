/**
 * Quorum client model (BFT protocols): the request timestamps a member's clients may use,
 * reserved on disk before use. Replicas ignore a client's request at or below the last timestamp
 * they executed for it, so a member's clients must never reuse one across restarts. The wall
 * clock cannot promise that (an NTP step back, a VM restored from an image, a clock that was
 * wrong when the last run started), so it is not consulted at all: each incarnation starts at
 * the end of the reservation its predecessor wrote, and writes its own before any client uses it.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Timestamps reserved ahead of use, per write of the file. An incarnation skips what its
 * predecessor reserved but did not use, so this bounds restarts at 2^53 / this (about 9 million).
 */
export const CLIENT_TIMESTAMP_RESERVATION = 1_000_000_000;
/** The file in a member's data directory holding the end of its reserved client timestamps. */
export const CLIENT_TIMESTAMPS_FILE = 'quorum-client-timestamps';

/**
 * Every one of an incarnation's quorum clients starts at `first` and uses one timestamp per
 * request (a read-only request retried as an ordered one uses a second, but the driver sends
 * none), so after n requests through this member no client is above first + n. The reservation
 * (first + reservation) is written, fsynced and renamed into place before the driver starts, and
 * extended in the background once half of it is used; requests wait for nothing, and are refused
 * only if the whole reservation is used before the extension is durable.
 */
export class ClientTimestamps {
  /** Requests made through this member so far: an upper bound on any client's timestamp - first. */
  private used = 0;
  /** first + durable is the end of the reservation on disk; used <= durable always. */
  private durable: number;
  private extending = false;

  private constructor(private readonly path: string, readonly first: number, private readonly reservation: number) {
    this.durable = reservation;
  }

  /** Start where the previous incarnation's reservation ended (0 on a fresh data directory) and reserve ahead, durably. */
  static async open(dataDir: string, reservation = CLIENT_TIMESTAMP_RESERVATION): Promise<ClientTimestamps> {
    if (!Number.isSafeInteger(reservation) || reservation < 2) throw new Error(`a client timestamp reservation must be an integer >= 2, got ${reservation}`);
    const path = join(dataDir, CLIENT_TIMESTAMPS_FILE);
    let previous = 0;
    try {
      const text = (await readFile(path, 'utf8')).trim();
      previous = Number(text);
      if (text === '' || !Number.isSafeInteger(previous) || previous < 0) throw new Error(`${path} holds '${text}', not a client timestamp`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!Number.isSafeInteger(previous + 2 * reservation)) throw new Error(`client timestamps exhausted: ${previous} + ${reservation} is not a safe integer`);
    const t = new ClientTimestamps(path, previous, reservation);
    await writeDurably(path, `${previous + reservation}\n`);
    return t;
  }

  /** One request may use a timestamp; false when the reservation on disk is used up. */
  take(): boolean {
    if (this.used >= this.durable) return false;
    this.used++;
    if (!this.extending && this.durable - this.used < this.reservation / 2) this.extend();
    return true;
  }

  private extend(): void {
    this.extending = true;
    const target = this.used + this.reservation;
    writeDurably(this.path, `${this.first + target}\n`).then(
      () => {
        this.durable = Math.max(this.durable, target);
        this.extending = false;
      },
      () => {
        this.extending = false; // tried again at the next request; refused once the reservation is used up
      },
    );
  }
}

/** Replace `path` with `text`: a temporary file, fsynced, renamed over it, the directory fsynced. */
async function writeDurably(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  const f = await open(temp, 'w');
  try {
    await f.writeFile(text);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(temp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
