/**
 * A joining member's one question to a running member, on the peer port: "here are my peer URLs;
 * which cluster is this, which member am I, and who else is in it?" (etcd asks the same over its
 * peer HTTP API when a member starts with --initial-cluster-state existing). One frame each way,
 * then the connection closes; the answer is whatever the running member's handler returns.
 */
import { connect } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { packTransient, unpack } from '../core/codec.js';
import { QuorateError } from '../core/errors.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { JOIN_QUERY_MAGIC, type PeerAddress, type PeerTls } from './transport.js';

/** Largest answer accepted (a member list is small). */
export const MAX_JOIN_ANSWER_BYTES = 1024 * 1024;

export function askToJoin(address: PeerAddress, query: Record<string, unknown>, tls: PeerTls | null, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = tls === null
      ? connect({ host: address.host, port: address.port })
      : connectTls({ host: address.host, port: address.port, cert: tls.cert, key: tls.key, ca: tls.ca });
    const decoder = new FrameDecoder(MAX_JOIN_ANSWER_BYTES);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new QuorateError('TIMEOUT', `no answer from ${address.host}:${address.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once(tls === null ? 'connect' : 'secureConnect', () => socket.write(encodeFrame(packTransient({ ...query, magic: JOIN_QUERY_MAGIC }))));
    socket.on('error', fail);
    socket.on('data', (chunk: Buffer) => {
      try {
        const frames = decoder.push(chunk);
        const first = frames[0];
        if (first === undefined) return;
        clearTimeout(timer);
        socket.destroy();
        resolve(unpack(first));
      } catch (err) {
        fail(err as Error);
      }
    });
    socket.on('close', () => fail(new QuorateError('UNAVAILABLE', `${address.host}:${address.port} closed the connection without answering`)));
  });
}
