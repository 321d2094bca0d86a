/**
 * The command language every protocol's scenarios share (test/protocols/README.md lists it).
 * Each command reads its directive, moves the environment, and prints what happened.
 */
import { nodeId, type NodeId } from '../../../src/core/ids.js';
import type { Envelope } from '../../../src/core/replica.js';
import type { Command } from './adapter.js';
import { commandDirective, words, type Directive } from './datadriven.js';
import { UsageError, type Environment } from './environment.js';
import { describeFilter, messageFilter } from './network.js';
import { LEVELS, type Level } from './printer.js';

const enc = new TextEncoder();

export function intOption(d: Directive, key: string, fallback?: number): number {
  const v = d.options.get(key);
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`'${d.command}' needs ${key}=N`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`${key}=${v} is not an integer`);
  return n;
}

/** The detail level a command was asked for (a positional `full`, `events` or `none`). */
export function levelOf(d: Directive, fallback: Level): Level {
  return (d.args.find((a) => (LEVELS as readonly string[]).includes(a)) as Level | undefined) ?? fallback;
}

/** Positional words that are not a level. */
function plainArgs(d: Directive): string[] {
  return d.args.filter((a) => !(LEVELS as readonly string[]).includes(a));
}

export function arg(d: Directive, i: number, what: string): string {
  const v = d.args[i];
  if (v === undefined) throw new UsageError(`'${d.command}' needs ${what} as word ${i + 1}`);
  return v;
}

/** Commands shared by every protocol. */
export function genericCommands<M extends Envelope, H>(): Record<string, Command<M, H>> {
  const status = (env: Environment<M, H>, names: readonly string[]) => {
    for (const n of env.pick(names, true)) env.out.always(n.replica === null ? `${n.id}: down` : `${n.id}: ${env.adapter.status(n.replica)}`);
  };

  return {
    /** `cluster n1 n2 n3 [options]`, then optionally one line per node: `n1 key=value ...`. */
    cluster: (d, env) => {
      const ids = d.args.map(nodeId);
      const nodeOptions = new Map<NodeId, ReadonlyMap<string, string>>();
      for (const line of d.input) {
        const sub = commandDirective(line, d.line);
        if (!ids.includes(nodeId(sub.command))) throw new UsageError(`input line for ${sub.command}, which the cluster does not name`);
        nodeOptions.set(nodeId(sub.command), sub.options);
      }
      env.startCluster({ ids, options: d.options, nodeOptions });
      status(env, []);
    },

    /** `add-nodes n4 n5 [mutant=M]`: nodes with empty disks that know the cluster but are not in its configuration. */
    'add-nodes': (d, env) => {
      for (const name of d.args) env.addNode(nodeId(name), undefined, d.options.get('mutant'));
      status(env, d.args);
    },

    campaign: (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      if (env.adapter.campaign === undefined) throw new UsageError('this protocol has no campaign command');
      env.adapter.campaign(n.live());
      env.observe(n);
    },

    /** `tick n1 [times=N]`, `tick all times=N`: logical time passes; nothing is processed or delivered. */
    tick: (d, env) => {
      const nodes = env.pick(plainArgs(d));
      env.out.at(levelOf(d, 'events'), () => {
        for (let i = 0; i < intOption(d, 'times', 1); i++) {
          for (const n of nodes) {
            if (n.replica === null) continue;
            n.replica.tick();
            env.observe(n);
          }
        }
      });
    },

    /** `run ticks=N [full|events|none]`: N times, every live node ticks, then the cluster stabilizes. */
    run: (d, env) => {
      const ticks = intOption(d, 'ticks');
      env.out.at(levelOf(d, 'events'), () => {
        for (let t = 1; t <= ticks; t++) {
          env.out.prefix = `[tick ${t}] `;
          env.tickAll();
          if (!env.stabilize()) break;
        }
        env.out.prefix = '';
      });
    },

    /** `propose n1 x [y ...]`: each command is appended (or refused); nothing is sent until process-ready. */
    propose: (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      arg(d, 1, 'the command');
      for (const data of d.args.slice(1)) {
        const r = n.live().propose(enc.encode(data));
        env.out.always(`ok: index ${r.index} term ${env.adapter.formatTerm?.(r.term) ?? r.term}`);
      }
      env.observe(n);
    },

    'read-index': (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      n.live().readIndex(arg(d, 1, 'a request id'));
      env.observe(n);
    },

    'read-states': (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      env.out.always(n.readStates.length === 0 ? 'none' : n.readStates.map((s) => `${s.requestId} at index ${s.index}`).join('\n'));
    },

    /** `compact n1`: the state machine snapshots what it applied; the replica may drop its log up to there. */
    compact: (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      const r = n.live();
      const s = r.status();
      const index = s.appliedIndex;
      const data = n.machine.snapshot(index);
      r.compact(index, data);
      n.store.saveSnapshot({ meta: { index, term: n.store.entryAt(index)?.term ?? s.term, membership: s.membership }, data });
      env.out.always(`ok: ${n.id} snapshot through ${index} (${data.byteLength} bytes)`);
    },

    /** `process-ready [n1 n2 | all]`: handle the nodes' Readys as a driver does, and print them. */
    'process-ready': (d, env) => {
      const nodes = env.pick(plainArgs(d), true);
      env.out.at(levelOf(d, 'full'), () => {
        for (const n of nodes) if (!env.processReady(n) && d.args.length > 0 && d.args[0] !== 'all') env.out.full(`> ${n.id}: no Ready`);
      });
    },

    /** `stabilize [full|events|none]`: process and deliver until nothing is left to do. */
    stabilize: (d, env) => {
      env.out.at(levelOf(d, 'full'), () => env.stabilize());
    },

    /** `deliver-msgs [n2 ...] [from=] [to=] [type=a,!b]`: step the matching messages in flight into their nodes. */
    'deliver-msgs': (d, env) => {
      const options = new Map(d.options);
      const to = plainArgs(d);
      if (to.length > 0) options.set('to', to.join(','));
      const msgs = env.network.take(messageFilter(options));
      env.out.at(levelOf(d, 'full'), () => {
        if (msgs.length === 0) env.out.always('no messages');
        for (const m of msgs) env.deliver(m, 'delivered');
      });
    },

    'drop-msgs': (d, env) => {
      const msgs = env.network.take(messageFilter(d.options));
      env.out.always(msgs.length === 0 ? 'no messages' : msgs.map((m) => `dropped: ${env.fmt(m)}`).join('\n'));
    },

    /** `msgs [filter]`: the messages in flight. */
    msgs: (d, env) => {
      const f = messageFilter(d.options);
      const msgs = env.network.inFlight().filter((m) => env.network.matches(f, m));
      env.out.always(msgs.length === 0 ? 'no messages' : msgs.map((m) => env.fmt(m)).join('\n'));
    },

    /** `inject ...`: put a message the scenario wrote in flight (a forged, stale or replayed one). */
    inject: (d, env) => {
      if (env.adapter.parseMessage === undefined) throw new UsageError('this protocol cannot parse messages');
      const m = env.adapter.parseMessage(d);
      env.network.inject(m);
      env.out.always(`in flight: ${env.fmt(m)}`);
    },

    /** `partition n1 | n2 n3`: cut every link between the groups; nodes named nowhere keep theirs. */
    partition: (d, env) => {
      const groups: string[][] = [[]];
      for (const w of d.args) {
        if (w === '|') groups.push([]);
        else groups[groups.length - 1]!.push(env.node(w).id);
      }
      if (groups.length < 2 || groups.some((g) => g.length === 0)) throw new UsageError('partition needs groups separated by |');
      env.network.partition(groups);
    },

    /** `cut n1->n2`: lose every message from n1 to n2 (one way). */
    cut: (d, env) => {
      for (const w of d.args) {
        const [from, to] = w.split('->');
        if (from === undefined || to === undefined) throw new UsageError(`'${w}' is not a link (from->to)`);
        env.network.cutLink(env.node(from).id, env.node(to).id);
      }
    },

    heal: (_d, env) => env.network.heal(),

    /** `block [from=] [to=] [type=] [every=K]`: from now on the matching messages (every K-th one) are lost. */
    block: (d, env) => {
      const f = messageFilter(d.options);
      const every = intOption(d, 'every', 1);
      let seen = 0;
      const name = `block ${describeFilter(f)}${every > 1 ? ` every=${every}` : ''}`;
      env.network.addRule({ name, apply: (m) => (env.network.matches(f, m) && seen++ % every === 0 ? null : m) });
      env.out.always(`ok: rule '${name}'`);
    },

    /**
     * `duplicate [from=] [to=] [type=]`: from now on every matching message arrives twice, its
     * copy late: it goes on the wire after the next matching message (a network that duplicates
     * and reorders). The last one's copy waits for a next one.
     */
    duplicate: (d, env) => {
      const f = messageFilter(d.options);
      const name = `duplicate ${describeFilter(f)}`;
      let late: M | null = null;
      env.network.addRule({
        name,
        apply: (m) => {
          if (!env.network.matches(f, m)) return m;
          const onWire = late === null ? m : [m, late];
          late = m;
          return onWire;
        },
      });
      env.out.always(`ok: rule '${name}'`);
    },

    /**
     * `refuse [from=] [to=] [type=]`: from now on the senders' transports refuse the matching
     * messages (no connection, a full queue): they are lost, and each sender's core is told
     * (Replica.sendFailed), as the driver does.
     */
    refuse: (d, env) => {
      const f = messageFilter(d.options);
      const name = `refuse ${describeFilter(f)}`;
      env.network.addRefusal(name, f);
      env.out.always(`ok: rule '${name}'`);
    },

    'clear-rules': (_d, env) => env.network.clearRules(),

    /** `watch [from=] [to=] [type=]`: from now on, print every matching message sent (even in a quiet run). */
    watch: (d, env) => {
      const f = messageFilter(d.options);
      const name = `watch ${describeFilter(f)}`;
      env.network.addRule({
        name,
        apply: (m) => {
          if (env.network.matches(f, m)) env.out.event(`watched: ${env.fmt(m)}`);
          return m;
        },
      });
      env.out.always(`ok: rule '${name}'`);
    },

    crash: (d, env) => {
      for (const n of env.pick(d.args)) env.crash(n);
    },

    /**
     * `peer-down n2 [n3 ...] of=n1`: the nodes' transports saw every connection to n1 close (its
     * process died, its host reset them): each core is told (Replica.peerDown), as the driver does.
     * Nothing is processed or delivered; a core without peerDown ignores it.
     */
    'peer-down': (d, env) => {
      const of = d.options.get('of');
      if (of === undefined || d.options.size !== 1) throw new UsageError('peer-down n2 [n3 ...] of=n1');
      const peer = nodeId(of);
      for (const n of env.pick(d.args)) {
        n.live().peerDown?.(peer);
        env.observe(n);
      }
    },

    /** `restart n2 [applied=N] [mutant=M]`: crash if up, then start from the disk. */
    restart: (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      const applied = d.options.has('applied') ? intOption(d, 'applied') : undefined;
      env.out.at('events', () => env.restart(n, applied, d.options.get('mutant')));
      status(env, [n.id]);
    },

    'hold-sync': (d, env) => {
      for (const n of env.pick(d.args)) n.holdSync = true;
    },

    /** `release-sync n2`: the held write is synced; the rest of its Ready (send, apply, advance) goes ahead. */
    'release-sync': (d, env) => {
      for (const n of env.pick(d.args)) {
        n.holdSync = false;
        const held = n.held;
        if (held === null) continue;
        n.held = null;
        n.store.sync();
        env.out.full(`> ${n.id} synced`);
        env.finish(n, held);
      }
    },

    status: (d, env) => status(env, d.args),

    log: (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      if (env.adapter.log !== undefined) {
        for (const line of env.adapter.log(n.live(), d.args.slice(1))) env.out.always(line);
        return;
      }
      const durable = n.store.restore();
      env.out.always(durable.entries.length === 0 ? 'empty' : durable.entries.map((e) => env.storedEntry(e)).join('\n'));
    },

    /** `applied n1 [commands]`: what the node's state machine applied, in order (`commands`: no no-ops or configurations). */
    applied: (d, env) => {
      const n = env.node(arg(d, 0, 'a node'));
      const onlyCommands = d.args.includes('commands');
      const entries = n.machine.entries.filter((e) => !onlyCommands || e.text.includes('"'));
      const head = n.machine.restoredThrough > 0 ? [`(through ${n.machine.restoredThrough} from a snapshot)`] : [];
      const lines = [...head, ...entries.map((e) => e.text)];
      env.out.always(lines.length === 0 ? 'nothing' : lines.join('\n'));
    },

    /** Election safety, state machine safety, and the protocol's own checks: `ok`, or every violation seen so far. */
    'check-invariants': (_d, env) => {
      env.checkCluster();
      const all = env.safety.all();
      env.out.always(all.length === 0 ? 'ok' : all.map((v) => `violation: ${v}`).join('\n'));
    },

    /**
     * `repeat times=N`, then one command per input line (`{i}`: the round's number): run them N
     * times; print what the last round printed, and any violation or panic of the others.
     */
    repeat: (d, env) => {
      const times = intOption(d, 'times');
      if (d.input.length === 0 || words(d.input[0] ?? '').length === 0) throw new UsageError('repeat needs commands on the lines below it');
      // `{i}` in a body line is the round's number (1, 2, ...).
      const body = (t: number) => d.input.map((line, i) => commandDirective(line.replaceAll('{i}', String(t)), d.line + 1 + i));
      // Each inner command takes the printer's lines as its output, so collect them here.
      const shown: string[] = [];
      for (let t = 1; t <= times; t++) {
        for (const b of body(t)) {
          const out = env.run(b);
          if (t === times && out !== '' && out !== 'ok') shown.push(out.includes('\n') ? `${b.text}:\n${out}` : `${b.text}: ${out}`);
          else shown.push(...out.split('\n').filter((l) => l.startsWith('!!') || l.startsWith('panic')));
        }
      }
      for (const line of shown) env.out.always(line);
    },
  };
}
