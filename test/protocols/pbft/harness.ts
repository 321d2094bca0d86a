/**
 * A scenario harness for PBFT: N replicas with the simulator's authenticators, a network you
 * deliver by hand (with rules that drop or rewrite messages, which is how a test plays a
 * Byzantine replica or an unlucky network), clients that accept f + 1 matching replies, and a
 * small state machine that records what each replica executed where.
 *
 *   const c = new PbftCluster(4);
 *   c.request('c1', 'x');  c.deliverAll();  c.accepted('c1')  // ['1:x']
 *   c.drop((m) => m.from === 'n1');  c.tickUntil(() => c.view('n2') === 1);
 *   c.restart('n3')  // a crash: n3 comes back from what it wrote to its (synced) disk
 */
import assert from 'node:assert/strict';
import type { Authenticator } from '../../../src/core/authenticator.js';
import { nodeId, Prng, type Index, type NodeId } from '../../../src/core/index.js';
import type { RestoredState, StateMachine } from '../../../src/core/replica.js';
import { PbftReplica, type PbftHardState, type PbftMessage, type PbftOptions, type PbftReply } from '../../../src/protocols/pbft/index.js';
import { ModelDisk } from '../../../src/sim/disk.js';
import { BftClient } from '../../../src/protocols/pbft/client.js';
import { PbftHost } from '../../../src/protocols/pbft/host.js';
import { SimKeyring } from '../../../src/sim/sim-authenticator.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Appends each op to a list; the result names the position and the op ("3:x"). */
export class ListMachine implements StateMachine<string> {
  ops: string[] = [];
  apply(command: Uint8Array): string {
    const op = dec.decode(command);
    this.ops.push(op);
    return `${this.ops.length}:${op}`;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.ops));
  }
  restore(data: Uint8Array): void {
    this.ops = JSON.parse(dec.decode(data)) as string[];
  }
}

export type Rule = (m: PbftMessage) => PbftMessage | PbftMessage[] | null;

export class PbftCluster {
  readonly ids: NodeId[];
  readonly keyring: SimKeyring;
  readonly hosts = new Map<NodeId, PbftHost<string>>();
  readonly machines = new Map<NodeId, ListMachine>();
  /** What each replica wrote; synced before its messages leave. */
  readonly disks = new Map<NodeId, ModelDisk<PbftHardState>>();
  readonly clients = new Map<string, BftClient>();
  readonly acceptedResults = new Map<string, string[]>();
  /** seq → digest executed there, per replica. */
  readonly executedAt = new Map<NodeId, Map<number, string>>();
  inFlight: PbftMessage[] = [];
  delivered = 0;
  readonly rules: Rule[] = [];
  readonly f: number;

  private readonly authFor: (principal: string) => Authenticator;

  constructor(n: number, readonly options: Partial<Omit<PbftOptions, 'id' | 'membership' | 'random' | 'authenticator'>> & {
    mutants?: Record<string, string>;
    /** Authenticators per principal (default: the simulator's keyring). */
    authenticators?: (principal: string) => Authenticator;
  } = {}) {
    this.ids = Array.from({ length: n }, (_, i) => nodeId(`n${i + 1}`));
    this.f = Math.floor((n - 1) / 3);
    this.keyring = new SimKeyring(new Prng(7));
    const cache = new Map<string, Authenticator>();
    this.authFor = (p) => {
      let a = cache.get(p);
      if (a === undefined) {
        a = options.authenticators?.(p) ?? this.keyring.authenticatorFor(p);
        cache.set(p, a);
      }
      return a;
    };
    for (const id of this.ids) {
      this.disks.set(id, new ModelDisk<PbftHardState>());
      this.executedAt.set(id, new Map());
      this.start(id, null);
    }
  }

  private start(id: NodeId, restored: RestoredState<PbftHardState> | null): PbftHost<string> {
    const sm = new ListMachine();
    const auth = this.authFor(id);
    const mutant = this.options.mutants?.[id];
    const replica = new PbftReplica({
      checkpointIntervalSeqs: 4, requestTimeoutTicks: 10, viewChangeTimeoutTicks: 10, retransmitTicks: 5, announceTicks: 20,
      ...this.options, id, membership: { voters: this.ids, outgoingVoters: [], learners: [] }, random: new Prng(1), authenticator: auth,
      ...(mutant === undefined ? {} : { mutant }),
      ...(restored === null ? {} : { restored }),
    });
    const host = new PbftHost(replica, { sm, query: (op) => `read:${sm.ops.length}:${dec.decode(op)}`, encodeResult: (r) => enc.encode(r) }, auth, restored?.snapshot ?? null);
    const disk = this.disks.get(id)!;
    host.persister = {
      save: (p) => {
        disk.write(p);
        disk.sync();
      },
      saveCheckpoint: (c) => disk.saveSnapshot(c),
    };
    const seen = this.executedAt.get(id)!;
    host.onExecute = (batch) => seen.set(batch.seq, batch.requests.map((r) => dec.decode(r.op)).join(',') || 'null');
    this.hosts.set(id, host);
    this.machines.set(id, sm);
    return host;
  }

  /** Crash `id` and start it again from its disk (messages addressed to it meanwhile still arrive: it was quick). */
  restart(id: string): void {
    const host = this.start(nodeId(id), this.disks.get(nodeId(id))!.restore());
    this.emit(host.process());
  }

  replica(id: string): PbftReplica {
    return this.hosts.get(nodeId(id))!.replica;
  }

  auth(principal: string): Authenticator {
    return this.authFor(principal);
  }

  view(id: string): number {
    return this.replica(id).status().view;
  }

  client(name: string): BftClient {
    let c = this.clients.get(name);
    if (c === undefined) {
      c = new BftClient(this.authFor(name), this.ids);
      this.clients.set(name, c);
    }
    return c;
  }

  /** A client sends an operation (to the primary it knows; `toAll` as after a timeout). */
  request(client: string, op: string, how: { readOnly?: boolean; toAll?: boolean } = {}): void {
    const c = this.client(client);
    const msgs = c.begin(enc.encode(op), how.readOnly ?? false);
    this.inFlight.push(...(how.toAll ? [...msgs, ...c.retry()] : msgs));
  }

  retry(client: string): void {
    this.inFlight.push(...this.client(client).retry());
  }

  accepted(client: string): string[] {
    return this.acceptedResults.get(client) ?? [];
  }

  /** Add a rule applied to every message sent from now on (return null to drop). */
  rule(r: Rule): void {
    this.rules.push(r);
  }

  drop(pred: (m: PbftMessage) => boolean): void {
    this.rule((m) => (pred(m) ? null : m));
  }

  clearRules(): void {
    this.rules.length = 0;
  }

  /** Messages a replica sends go through the rules. */
  private emit(msgs: PbftMessage[]): void {
    for (const m of msgs) {
      let batch: PbftMessage[] = [m];
      for (const r of this.rules) {
        const next: PbftMessage[] = [];
        for (const x of batch) {
          const y = r(x);
          if (y === null) continue;
          next.push(...(Array.isArray(y) ? y : [y]));
        }
        batch = next;
      }
      this.inFlight.push(...batch);
    }
  }

  deliver(m: PbftMessage): void {
    this.delivered++;
    if (m.type === 'reply') {
      const c = this.clients.get(m.to);
      const a = c?.onReply(m as PbftReply);
      if (a) {
        const list = this.acceptedResults.get(m.to) ?? [];
        list.push(dec.decode(a.result));
        this.acceptedResults.set(m.to, list);
      }
      return;
    }
    const host = this.hosts.get(m.to);
    if (host === undefined) return;
    host.replica.step(m);
    this.emit(host.process());
  }

  /** Deliver everything in flight, and everything that causes, in FIFO order. */
  deliverAll(limit = 100_000): void {
    for (let i = 0; i < limit && this.inFlight.length > 0; i++) this.deliver(this.inFlight.shift()!);
    assert.equal(this.inFlight.length, 0, 'network quiesced');
  }

  tick(times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const h of this.hosts.values()) {
        h.replica.tick();
        this.emit(h.process());
      }
      this.deliverAll();
    }
  }

  tickUntil(cond: () => boolean, max = 500): void {
    for (let i = 0; i < max && !cond(); i++) this.tick();
    assert.ok(cond(), 'condition reached within the tick budget');
  }

  /** What replica `id` executed at each sequence number ("x,y" for a batch, "null" for the null request). */
  executed(id: string): Map<number, string> {
    return this.executedAt.get(nodeId(id))!;
  }

  /** No two of `ids` executed different batches at one sequence number. */
  assertAgree(ids: string[] = this.ids): void {
    const all = new Map<number, string>();
    for (const id of ids) {
      for (const [seq, what] of this.executed(id)) {
        const other = all.get(seq);
        assert.ok(other === undefined || other === what, `sequence ${seq}: ${id} executed ${what}, another replica ${other}`);
        all.set(seq, what);
      }
    }
  }

  /** Do `ids` disagree somewhere? */
  disagree(ids: string[]): boolean {
    try {
      this.assertAgree(ids);
      return false;
    } catch {
      return true;
    }
  }

  lastIndex(id: string): Index {
    return this.replica(id).status().lastExecuted as Index;
  }
}
