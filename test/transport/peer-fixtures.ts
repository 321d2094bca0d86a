/** What the peer-secret and frame-MAC tests share: the message they send, the cluster secret, and a bounded wait. */
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
