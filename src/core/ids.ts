/**
 * Branded identifiers. A Term passed where an Index is expected is a bug the compiler should
 * catch, so each gets its own brand. All three are plain values at run time.
 */

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A replica's identity inside a protocol core (e.g. "n1"). */
export type NodeId = Brand<string, 'NodeId'>;
/** Raft term / Paxos ballot counter / VR view number: increases, never goes backwards. */
export type Term = Brand<number, 'Term'>;
/** A position in a replicated log (1-based; 0 means "before the first entry"). */
export type Index = Brand<number, 'Index'>;

export const nodeId = (s: string): NodeId => s as NodeId;
export const term = (n: number): Term => n as Term;
export const index = (n: number): Index => n as Index;

export const ZERO_TERM = 0 as Term;
export const ZERO_INDEX = 0 as Index;

/** Convenience for tests and configuration: ["n1", "n2"] as NodeIds. */
export const nodeIds = (...names: string[]): NodeId[] => names.map(nodeId);
