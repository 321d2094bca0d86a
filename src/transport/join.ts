/**
 * A question to a running member on its peer port, outside any peer connection: a joining
 * member's "here are my peer URLs; which cluster is this, which member am I, and who else is in
 * it?" (etcd asks the same over its peer HTTP API when a member starts with
 * --initial-cluster-state existing), a removed member's "am I still in?", and the leader's
 * corruption check (`kind: 'hashkv'`). One query, one answer, then the connection closes.
 *
 * With a cluster secret (--peer-secret-file) a query is answered only once its asker proved the
 * secret, by the same challenge and response as a peer connection's handshake (peer-secret.ts):
 *
 *   asker    → listener   query { ..., nonce: N_a }
 *   listener → asker      challenge { nonce: N_l, proof: HMAC(secret, listener | query | N_a | N_l) }
 *   asker    → listener   answer { proof: HMAC(secret, dialer | query | N_a | N_l) }
 *   listener → asker      { answer: A, proof: HMAC(secret, answer | query | A | N_a | N_l) }
 *
 * The answer carries its own proof: without it, anyone on the path could replace an answer after
 * the handshake (tell a member it was removed, or hand the leader's corruption check a wrong hash).
 * A listener without the secret configured answers at once, as before. An asker the listener
 * cannot verify gets `{ error, code: 'UNAUTHENTICATED' }`, which askToJoin throws as a typed error;
 * an answer whose proof fails is refused the same way.
 */
import { connect } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { pack, packTransient, unpack } from '../core/codec.js';
import { QuorateError } from '../core/errors.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { freshNonce, isNonce, JOIN_ANSWER_MAGIC, joinAnswerProof, joinProof, PEER_AUTH_MAGIC, proofMatches } from './peer-secret.js';
import { certificateNamesMember } from './peer-identity.js';
import type { PeerAddress, PeerTls } from './transport.js';

/** First frame of a connection that asks a question rather than talks (see above). */
export const JOIN_QUERY_MAGIC = 'QRT1-JOIN';

/** Largest answer accepted (a member list is small). */
export const MAX_JOIN_ANSWER_BYTES = 1024 * 1024;

/**
 * Largest query a listener takes (peer URLs and a name, or a hashkv revision, fit many times):
 * a query comes before its asker proved anything, and one of the peer port's frame limit (4 MiB)
 * would be kept and hashed for a handshake timeout per connection.
 */
export const MAX_JOIN_QUERY_BYTES = 64 * 1024;

/** How an asker reaches the peer port: its TLS identity and the cluster secret, when configured. */
export interface PeerCredentials {
  readonly tls: PeerTls | null;
  readonly secret: Uint8Array | null;
}

interface Challenge { readonly magic: typeof PEER_AUTH_MAGIC; readonly nonce?: unknown; readonly proof?: unknown }

function isChallenge(v: unknown): v is Challenge {
  return typeof v === 'object' && v !== null && (v as { magic?: unknown }).magic === PEER_AUTH_MAGIC;
}

function unauthenticated(message: string): QuorateError {
  return new QuorateError('UNAUTHENTICATED', message);
}

/**
 * Ask the member at `address` one question and return its answer. `member`: the protocol id of the
 * member the asker means to ask, when it knows it (the corruption check's hashkv question, a
 * member's "am I still in?"); with peer TLS and memberBinding 'common-name' the listener's
 * certificate must then name it (its CN), as for a peer link (transport.ts), or the question is
 * refused with UNAUTHENTICATED before it is sent: otherwise any holder of a certificate of the
 * cluster CA that answers at that address (another member on the same host) could answer for it,
 * and hand the corruption check a wrong hash or tell a member it was removed. Absent (a joining
 * member, which knows the running members only by the names in --initial-cluster, while one added
 * later has its member id as CN): any certificate of the CA answers.
 */
export function askToJoin(address: PeerAddress, query: Record<string, unknown>, credentials: PeerCredentials, timeoutMs: number, member?: string): Promise<unknown> {
  const { tls, secret } = credentials;
  const where = `${address.host}:${address.port}`;
  return new Promise((resolve, reject) => {
    const socket = tls === null
      ? connect({ host: address.host, port: address.port })
      : connectTls({ host: address.host, port: address.port, cert: tls.cert, key: tls.key, ca: tls.ca });
    const decoder = new FrameDecoder(MAX_JOIN_ANSWER_BYTES);
    const nonce = secret === null ? null : freshNonce();
    // Its own copy (pack, not packTransient): both proofs cover these bytes, after other encodings ran.
    const sent = pack({ ...query, magic: JOIN_QUERY_MAGIC, ...(nonce === null ? {} : { nonce }) });
    /** With a secret: the listener's nonce, once it proved the secret and this asker answered the challenge. */
    let listenerNonce: Uint8Array | null = null;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new QuorateError('TIMEOUT', `no answer from ${where} within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = (err: Error | null, answer?: unknown): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(answer);
    };
    const onFrame = (frame: Uint8Array): boolean => {
      const value = unpack(frame);
      if (secret !== null && nonce !== null && listenerNonce === null) {
        if (!isChallenge(value) || !isNonce(value.nonce)) {
          settle(unauthenticated(`${where} answered without proving the cluster secret (is --peer-secret-file configured on every member?)`));
          return true;
        }
        if (!proofMatches(value.proof, joinProof(secret, 'listener', sent, nonce, value.nonce))) {
          settle(unauthenticated(`${where} did not prove the cluster secret (is --peer-secret-file the same on every member?)`));
          return true;
        }
        listenerNonce = Uint8Array.from(value.nonce);
        socket.write(encodeFrame(packTransient({ magic: PEER_AUTH_MAGIC, proof: joinProof(secret, 'dialer', sent, nonce, value.nonce) })));
        return false;
      }
      const refused = value as { error?: unknown; code?: unknown };
      if (typeof refused === 'object' && refused !== null && refused.code === 'UNAUTHENTICATED' && typeof refused.error === 'string') {
        // Unproven, but a forged refusal only fails this query, which whoever can forge it can do anyway.
        settle(unauthenticated(`${where}: ${refused.error}`));
      } else if (secret !== null && nonce !== null && listenerNonce !== null) {
        const a = value as { magic?: unknown; answer?: unknown; proof?: unknown };
        const proven = typeof a === 'object' && a !== null && a.magic === JOIN_ANSWER_MAGIC && a.answer instanceof Uint8Array &&
          proofMatches(a.proof, joinAnswerProof(secret, sent, a.answer, nonce, listenerNonce));
        if (!proven) settle(unauthenticated(`${where} answered without proving its answer (altered in flight, or a member built before answers carried a proof)`));
        else settle(null, unpack(a.answer as Uint8Array));
      } else {
        settle(null, value);
      }
      return true;
    };
    socket.once(tls === null ? 'connect' : 'secureConnect', () => {
      if (tls !== null && member !== undefined && (tls.memberBinding ?? 'common-name') === 'common-name') {
        const why = certificateNamesMember((socket as TLSSocket).getPeerCertificate(), member);
        if (why !== null) {
          settle(unauthenticated(`${where} is not member ${member}: ${why} (issue each member a peer certificate with its id as CN, or run every member with --peer-cert-member-binding none)`));
          return;
        }
      }
      socket.write(encodeFrame(sent));
    });
    socket.on('error', (err) => settle(err));
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) if (onFrame(frame)) return;
      } catch (err) {
        settle(err as Error);
      }
    });
    socket.on('close', () => settle(new QuorateError('UNAVAILABLE', `${where} closed the connection without answering`)));
  });
}

/** What the listener does with a frame of a join-query connection. */
export type JoinStep =
  | { readonly kind: 'send'; readonly frame: Uint8Array }
  | { readonly kind: 'answer'; readonly frame: Uint8Array }
  | { readonly kind: 'refuse'; readonly frame: Uint8Array; readonly why: string };

/**
 * The listener's side of one join-query connection: `first` is the query frame (already known to
 * carry JOIN_QUERY_MAGIC), `next` each later frame. `answer` runs only on a query whose asker
 * proved the secret (or on any query when no secret is configured).
 */
export class JoinListener {
  /** With a secret: the query waiting for its asker's proof, and what that proof must be. */
  private query: unknown = null;
  private expected: Buffer | null = null;
  /** With a secret: the query's bytes and the connection's nonces, which the answer's proof covers. */
  private bound: { readonly frame: Uint8Array; readonly dialerNonce: Uint8Array; readonly listenerNonce: Uint8Array } | null = null;

  constructor(private readonly secret: Uint8Array | null, private readonly answer: (query: unknown) => unknown) {}

  /** A challenge was sent and its answer has not come. */
  get waiting(): boolean {
    return this.expected !== null;
  }

  first(frame: Uint8Array, query: unknown): JoinStep {
    if (frame.byteLength > MAX_JOIN_QUERY_BYTES) return refusal(`the query is ${frame.byteLength} bytes, over the limit of ${MAX_JOIN_QUERY_BYTES}`);
    if (this.secret === null) return this.answered(query);
    const nonce = (query as { nonce?: unknown }).nonce;
    if (!isNonce(nonce)) return refusal('the query offered no proof of the cluster secret; this member requires it (--peer-secret-file)');
    const mine = freshNonce();
    this.query = query;
    this.expected = joinProof(this.secret, 'dialer', frame, nonce, mine);
    // A copy: the frame may be a view of a buffer the decoder reuses.
    this.bound = { frame: Uint8Array.from(frame), dialerNonce: Uint8Array.from(nonce), listenerNonce: mine };
    const challenge = { magic: PEER_AUTH_MAGIC, nonce: mine, proof: joinProof(this.secret, 'listener', frame, nonce, mine) };
    return { kind: 'send', frame: encodeFrame(packTransient(challenge)) };
  }

  /** The asker's answer to the challenge (only while `waiting`). */
  next(value: unknown): Exclude<JoinStep, { kind: 'send' }> {
    const expected = this.expected;
    this.expected = null;
    if (expected === null || !isChallenge(value) || !proofMatches(value.proof, expected)) return refusal('the asker did not prove the cluster secret');
    return this.answered(this.query);
  }

  private answered(query: unknown): Exclude<JoinStep, { kind: 'send' }> {
    let answer: unknown;
    try {
      answer = this.answer(query);
    } catch (err) {
      answer = { error: (err as Error).message };
    }
    const bound = this.bound;
    if (this.secret === null || bound === null) return { kind: 'answer', frame: encodeFrame(packTransient(answer)) };
    const bytes = pack(answer);
    const proof = joinAnswerProof(this.secret, bound.frame, bytes, bound.dialerNonce, bound.listenerNonce);
    return { kind: 'answer', frame: encodeFrame(packTransient({ magic: JOIN_ANSWER_MAGIC, answer: bytes, proof })) };
  }
}

function refusal(why: string): Exclude<JoinStep, { kind: 'send' }> {
  return { kind: 'refuse', why, frame: encodeFrame(packTransient({ error: why, code: 'UNAUTHENTICATED' })) };
}
