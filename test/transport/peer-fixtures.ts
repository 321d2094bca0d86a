/** What the transport tests share: the message they send, the cluster secret, a bounded wait, and a raw dialer. */
import { connect } from 'node:net';
import type { NodeId } from '../../src/core/ids.js';

export interface Msg { readonly from: NodeId; readonly to: NodeId; readonly n: number }

/** The cluster secret every test member holds (32 bytes, the least a frame key may be). */
export const SECRET = new TextEncoder().encode('the cluster secret, 32 bytes....');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `f` every 10 ms until it holds; throws naming `what` after `boundMs`. */
export async function until(what: string, f: () => boolean, boundMs = 10_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

/** Dial `port` on loopback, write `bytes` as they are (no handshake of ours), and wait for the close (at most 1 s). */
export async function rawSend(port: number, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
    setTimeout(() => { s.destroy(); resolve(); }, 1000).unref();
  });
}
