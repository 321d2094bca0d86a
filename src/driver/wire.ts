/**
 * Messages exchanged between quorate nodes over the peer transport: the protocol's own messages,
 * plus proposal forwarding (a follower hands a client's command to the leader and relays the
 * result back, the way etcd followers forward proposals). A frame is checked by `wireValidator`
 * before the driver acts on it.
 */
import type { NodeId } from '../core/ids.js';
import type { Envelope } from '../core/replica.js';
import type { ErrorCode } from '../core/errors.js';
import { principalMember } from '../core/authenticator.js';
import {
  boolFields, DEFAULT_COMMON_MESSAGE_BOUNDS, InvalidMessage, isBytes, isName, isNat, isObject, isText, type Fields, type MessageValidator,
} from '../core/validate.js';

/** A protocol message, carried as is. */
export interface ProtocolFrame extends Envelope {
  readonly kind: 'protocol';
  readonly message: Envelope;
}

export interface ForwardProposal extends Envelope {
  readonly kind: 'forward-proposal';
  /** Unique across the sender's restarts (see LeaderProposals.requestPrefix). */
  readonly requestId: string;
  readonly command: Uint8Array;
}

export interface ForwardedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly leaderHint: NodeId | null;
}

export interface ForwardResult extends Envelope {
  readonly kind: 'forward-result';
  /** Unique across the sender's restarts (see LeaderProposals.requestPrefix). */
  readonly requestId: string;
  readonly ok: boolean;
  readonly result?: unknown;
  /**
   * Where the command was applied (ok results): the forwarding member answers its caller only
   * once it has applied that far itself, so the caller's next read there sees its write.
   * Absent from members that predate it: then the result is answered at once.
   */
  readonly index?: number;
  readonly error?: ForwardedError;
}

export type NodeMessage = ProtocolFrame | ForwardProposal | ForwardResult;

/** Bounds of the wire's own fields (the protocol message inside a `protocol` frame has its protocol's). */
export interface WireBounds {
  readonly maxNodeIdChars: number;
  readonly maxRequestIdChars: number;
  /** Characters of an error code in a forwarded result (the codes are short words). */
  readonly maxErrorCodeChars: number;
  /** Characters of an error message in a forwarded result. */
  readonly maxErrorMessageChars: number;
}

export const DEFAULT_WIRE_BOUNDS: WireBounds = {
  maxNodeIdChars: DEFAULT_COMMON_MESSAGE_BOUNDS.maxNodeIdChars,
  maxRequestIdChars: DEFAULT_COMMON_MESSAGE_BOUNDS.maxRequestIdChars,
  maxErrorCodeChars: 64,
  maxErrorMessageChars: 4096,
};

export interface WireValidatorOptions {
  /** The protocol's validator (ProtocolDefinition.messageValidator) for the message of a `protocol` frame. */
  readonly protocol: MessageValidator<Envelope>;
  /**
   * Refuse a `protocol` frame whose message names a sender (`message.from`) that the frame's
   * sender does not host (itself, or one of its clients "m1#k"). On a real network the frame's
   * sender is the member that authenticated at the handshake, and a crash-fault core trusts
   * `from` (a vote counts for whoever it names). The simulator turns this off: it models a liar
   * that writes any name there, which a Byzantine core's own authentication must catch.
   */
  readonly senderHostsMessage: boolean;
  readonly bounds?: WireBounds;
}

/**
 * The validator of a decoded peer frame: the envelope, the wire's own kinds (forwarded proposals
 * and their results) field by field, and a `protocol` frame's message by the protocol's schema.
 * Pure and total, as the protocols' validators are (see src/core/validate.ts).
 */
export function wireValidator(o: WireValidatorOptions): MessageValidator<NodeMessage> {
  const b = o.bounds ?? DEFAULT_WIRE_BOUNDS;
  const requestId = (m: Fields): string | null => (isName(m['requestId'], b.maxRequestIdChars) ? null : 'requestId is not a bounded string');
  return (value: unknown): NodeMessage | InvalidMessage => {
    if (!isObject(value)) return new InvalidMessage('frame is not an object');
    if (!isName(value['from'], b.maxNodeIdChars)) return new InvalidMessage('frame from is not a node id');
    if (!isName(value['to'], b.maxNodeIdChars)) return new InvalidMessage('frame to is not a node id');
    let why: string | null;
    switch (value['kind']) {
      case 'protocol': {
        const inner = o.protocol(value['message']);
        if (inner instanceof InvalidMessage) return new InvalidMessage(`protocol message: ${inner.reason}`);
        why = o.senderHostsMessage && principalMember(inner.from) !== value['from']
          ? `protocol message from ${String(inner.from)} in a frame from ${String(value['from'])}` : null;
        break;
      }
      case 'forward-proposal':
        // The command's size is the leader's to judge (it answers a typed error).
        why = requestId(value) ?? (isBytes(value['command']) ? null : 'command is not bytes');
        break;
      case 'forward-result':
        why = requestId(value) ?? boolFields(value, 'ok') ?? forwardResultProblem(value, b);
        break;
      default:
        why = `unknown frame kind ${String(value['kind'])}`;
    }
    return why === null ? value as unknown as NodeMessage : new InvalidMessage(`${String(value['kind'])}: ${why}`);
  };
}

/** `index` (where an ok result was applied) and `error` (why not), each optional. */
function forwardResultProblem(m: Fields, b: WireBounds): string | null {
  if (m['index'] !== undefined && !isNat(m['index'])) return 'index is not a non-negative integer';
  const e = m['error'];
  if (e === undefined) return null;
  if (!isObject(e)) return 'error is not an object';
  if (!isName(e['code'], b.maxErrorCodeChars)) return 'error code is not a bounded string';
  if (!isText(e['message'], b.maxErrorMessageChars)) return 'error message is not a bounded string';
  const hint = e['leaderHint'];
  if (hint !== null && !isName(hint, b.maxNodeIdChars)) return 'error leaderHint is neither null nor a node id';
  return null;
}
