/**
 * What frame MACs cost (a peer secret, frame-mac.ts): frames per second and CPU per frame with and
 * without them, for 256-byte and 64 KiB payloads.
 *   npm run build && node dist/bench/frame-mac.js [seconds per case]
 *
 * Two measurements per size:
 * - codec: one process frames a payload and reads it back (encode, decode; with MACs also seal and
 *   open), no sockets: the added work per frame on its own;
 * - loopback: two transports in this process, one dialing the other over 127.0.0.1, a window of
 *   messages in flight: what a member sees (packing, TCP, decoding, both ends' CPU in one figure).
 * CPU is this process's user + system time (both ends), per frame delivered. Compare the with/without
 * ratios within one run; on a shared machine the absolute figures move between runs.
 */
import { randomBytes } from 'node:crypto';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { encodeSealableFrame, FrameOpener, FrameSealer } from '../src/transport/frame-mac.js';
import { encodeFrame, FrameDecoder, PeerTransport } from '../src/transport/index.js';

interface Msg { readonly from: NodeId; readonly to: NodeId; readonly n: number; readonly data: Uint8Array }

const SECONDS = Number(process.argv[2] ?? 3);
const SIZES = [256, 64 * 1024] as const;
/** Messages in flight on the loopback run: under the transport's per-peer queue limits (4,096 messages, 64 MiB). */
const windowOf = (size: number): number => (size <= 4096 ? 2048 : 256);

interface Figures { readonly frames: number; readonly wallS: number; readonly cpuS: number }

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

function codec(size: number, mac: boolean): Figures {
  const payload = randomBytes(size);
  const key = randomBytes(32);
  const sealer = new FrameSealer(key);
  const opener = new FrameOpener(key);
  const decoder = new FrameDecoder(1 << 24);
  const start = performance.now();
  const cpu = process.cpuUsage();
  let frames = 0;
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < 256; i++) {
      if (mac) {
        const f = encodeSealableFrame(payload);
        sealer.seal(f);
        for (const body of decoder.push(f)) if ('refused' in opener.open(body)) throw new Error('a frame failed its MAC');
      } else {
        decoder.push(encodeFrame(payload));
      }
      frames++;
    }
  }
  return { frames, wallS: (performance.now() - start) / 1000, cpuS: cpuSeconds(cpu) };
}

async function loopback(size: number, mac: boolean): Promise<Figures> {
  const secret = mac ? randomBytes(32) : null;
  let received = 0;
  const b = await PeerTransport.start<Msg>({ clusterId: 'bench', self: nodeId('b'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map(), secret }, () => {
    received++;
  });
  const a = await PeerTransport.start<Msg>({
    clusterId: 'bench', self: nodeId('a'), listen: { host: '127.0.0.1', port: 0 }, peers: new Map([[nodeId('b'), b.address()]]), secret,
  }, () => {});
  b.setPeers(new Map([[nodeId('a'), a.address()]]));
  const data = randomBytes(size);
  const window = windowOf(size);
  let sent = 0;
  const send = (): void => {
    if (!a.send({ from: nodeId('a'), to: nodeId('b'), n: sent, data })) throw new Error('a message was not queued');
    sent++;
  };
  // Warm up (the handshake, the JIT), then measure.
  for (let i = 0; i < window; i++) send();
  while (received < sent) await new Promise((r) => setTimeout(r, 1));
  const first = received;
  const start = performance.now();
  const cpu = process.cpuUsage();
  while (performance.now() - start < SECONDS * 1000) {
    while (sent - received < window) send();
    await new Promise((r) => setImmediate(r));
  }
  while (received < sent) await new Promise((r) => setImmediate(r));
  const figures = { frames: received - first, wallS: (performance.now() - start) / 1000, cpuS: cpuSeconds(cpu) };
  const c = b.stats().counters;
  if (c.frameMacFailures + c.malformedFrames + c.authFailures !== 0) throw new Error(`refusals on a clean run: ${JSON.stringify(c)}`);
  await a.close();
  await b.close();
  return figures;
}

function row(what: string, size: number, plain: Figures, mac: Figures): string {
  const rate = (f: Figures) => f.frames / f.wallS;
  const cpuUs = (f: Figures) => (f.cpuS / f.frames) * 1e6;
  const mbs = (f: Figures) => (rate(f) * size) / 1e6;
  const cells = [
    what, `${size} B`,
    rate(plain).toFixed(0), rate(mac).toFixed(0), `${(rate(mac) / rate(plain)).toFixed(2)}`,
    mbs(plain).toFixed(0), mbs(mac).toFixed(0),
    cpuUs(plain).toFixed(2), cpuUs(mac).toFixed(2), `+${(cpuUs(mac) - cpuUs(plain)).toFixed(2)}`,
  ];
  return `| ${cells.join(' | ')} |`;
}

async function main(): Promise<void> {
  console.log(`frame MACs: ${SECONDS} s per case, node ${process.version}`);
  console.log('| run | payload | frames/s plain | frames/s MAC | ratio | MB/s plain | MB/s MAC | CPU µs/frame plain | CPU µs/frame MAC | MAC adds µs |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const size of SIZES) console.log(row('codec', size, codec(size, false), codec(size, true)));
  for (const size of SIZES) console.log(row('loopback', size, await loopback(size, false), await loopback(size, true)));
}

await main();
