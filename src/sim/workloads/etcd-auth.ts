/**
 * Auth in the etcd workload (a share of etcd runs: AUTH_RUN_SHARE). One member caller is the
 * administrator: it adds `root` (role root) and enables auth first, then (logged in as root) a
 * read-write and a read-only role and a user for each other member caller; later it now and then
 * disables and enables auth again and changes a user's password. The other clients are writers (read-write on every key), readers
 * (read-only: their writes are permission-denied attempts) or anonymous (no user: everything is
 * refused while auth is on); a Byzantine protocol's own clients are anonymous. A client with a
 * user logs in (Authenticate: under a Byzantine protocol, a login proved through the member that
 * orders its commands, see login-proof.ts) and again after a refusal that says its login is void.
 *
 * What the checker judges: besides each key's history, a register `AUTH_KEY` that reads 'on'
 * while auth is enabled and nothing while it is disabled. The administrator's enable and disable
 * write it; a refused operation is an answer too: a refusal by auth (only possible while it is on)
 * reads 'on', and a success of an operation the client has no permission for (only possible while
 * it is off) reads nothing. A lying member that makes the state machines turn auth off (a
 * disable ordered as root, whose login it never proved) shows as a read of nothing after the
 * last write of 'on'.
 *
 * Passwords are hashed as the server does (scrypt, a salt, and the login key from the same run),
 * but at SIM_SCRYPT_COST, the cheapest cost the auth store accepts, and with salts from the run's
 * own random stream: runs stay fast and reproducible.
 */
import { scryptSync, timingSafeEqual } from 'node:crypto';
import type { Operation } from '../../check/history.js';
import { assert } from '../../core/assert.js';
import type { Random } from '../../core/prng.js';
import { encodeKvCommand, type AuthRequest, type KvOutcome, type KvStateMachine, type PasswordHash } from '../../statemachine/mvcc/index.js';
import { LOGIN_SEED_BYTES, LOGIN_SIGNATURE_BYTES, loginKeyOf, loginStatement, loginUseStatement, sessionSeedOf, signLogin } from '../../statemachine/mvcc/login-proof.js';

/** Share of etcd runs that turn auth on (drawn from a stream of its own: the other runs stay as they were). */
export const AUTH_RUN_SHARE = 0.5;
/**
 * scrypt cost in the simulator: the lowest the auth store accepts (it takes any positive n, r, p;
 * node's scrypt wants n a power of two above 1). The server's SCRYPT_COST (n = 2^14) takes tens of
 * milliseconds a hash, and a run hashes at every user added, password changed and login.
 */
export const SIM_SCRYPT_COST = { n: 2, r: 1, p: 1 } as const;
/** The history register of the auth flag. */
export const AUTH_KEY = '@auth';
/** Share of the administrator's operations (after its setup) that change auth: disable, enable, a password change. */
export const ADMIN_CHANGE_SHARE = 0.1;
/** Share of a reader's operations that are writes (refused while auth is on: permission denied). */
export const READER_WRITE_SHARE = 0.25;
/** Passwords a client still tries for its user (a change whose outcome it does not know leaves two). */
const MAX_PASSWORD_CANDIDATES = 3;
/** Token keys, salts: sizes as the server's. */
const TOKEN_KEY_BYTES = 32;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** The roles the administrator makes: every key read-write, every key read-only. */
const RW_ROLE = 'rw';
const RO_ROLE = 'ro';
/** Every key: an empty key with a range end of one zero byte. */
const ALL_KEYS = { key: new Uint8Array(0), rangeEnd: new Uint8Array([0]) };
/** Share of a liar's commands that are a binding to root's session it cannot sign (the rest: auth disables as root). */
const LIAR_BINDING_SHARE = 0.5;
/** The session a liar's commands use. */
const LIAR_CLIENT = 'liar';

/** Refusals only auth can give, and only while it is on. */
const AUTH_REFUSALS: ReadonlySet<string> = new Set(['invalid-auth-token', 'permission-denied', 'user-empty', 'auth-failed']);

type Role = 'admin' | 'writer' | 'reader' | 'anonymous';

/** An auth operation of the workload. */
export type AuthStep =
  | { readonly kind: 'login' }
  | { readonly kind: 'admin'; readonly request: AuthRequest; readonly setup: boolean };

/** What EtcdWorkload asks of this for a client's next operation. */
export type AuthChoice =
  | { readonly kind: 'auth'; readonly step: AuthStep; readonly label: string }
  | { readonly kind: 'read' }
  | { readonly kind: 'any' };

interface AuthClient {
  readonly role: Role;
  readonly user: string | null;
  /** Whether its login may be void (none yet, or a refusal said so). */
  loginNeeded: boolean;
  /** Whether its last operation was a login (a client does something else between two). */
  lastWasLogin: boolean;
}

export class EtcdAuth {
  private readonly clients = new Map<number, AuthClient>();
  /** Passwords each user may have, the newest last. */
  private readonly passwords = new Map<string, string[]>();
  /** The administrator's setup, still to do (null: not made yet). */
  private setup: AuthStep[] | null = null;
  /** Whether the administrator believes auth is on. */
  private enabled = false;
  private passwordChanges = 0;
  private hasAdmin = false;
  /** Member callers given a role besides the administrator. */
  private memberCallers = 0;

  /** `random`: the run's auth stream (salts, token keys), apart from the clients' own. */
  constructor(private readonly random: Random) {}

  /** Roles by kind: the first member caller administers, the others are writers, readers, anonymous in turn. */
  useClient(client: number, kind: 'member' | 'quorum'): void {
    const roles: readonly Role[] = ['writer', 'reader', 'anonymous'];
    const role: Role = kind === 'quorum' ? 'anonymous' : !this.hasAdmin ? 'admin' : roles[this.memberCallers++ % roles.length]!;
    if (role === 'admin') this.hasAdmin = true;
    const user = role === 'admin' ? 'root' : role === 'writer' ? `writer${client}` : role === 'reader' ? `reader${client}` : null;
    this.clients.set(client, { role, user, loginNeeded: true, lastWasLogin: false });
    if (user !== null) this.passwords.set(user, [`${user}-pw`]);
  }

  /** The user `client`'s commands name (null: none). */
  userOf(client: number): string | null {
    return this.clients.get(client)?.user ?? null;
  }

  /** A client's next operation, if auth chooses it (during the final reads: only reads). */
  next(random: Random, client: number, readsOnly: boolean): AuthChoice {
    const c = this.clients.get(client);
    if (c === undefined || readsOnly) return { kind: 'any' };
    if (c.user !== null && c.loginNeeded && !c.lastWasLogin && (c.role !== 'admin' || this.enabled)) return this.choice({ kind: 'login' });
    if (c.role === 'admin') {
      this.setup ??= this.makeSetup();
      const head = this.setup[0];
      if (head !== undefined) return this.choice(head);
    }
    if (c.role === 'admin' && random.chance(ADMIN_CHANGE_SHARE)) return this.choice(this.adminChange(random));
    if (c.role === 'reader' && !random.chance(READER_WRITE_SHARE)) return { kind: 'read' };
    return { kind: 'any' };
  }

  /** The request an auth step orders (a login is built from the ordering member's state, as the server's Authenticate). */
  request(step: AuthStep, client: number, sm: KvStateMachine | null, origin: string): AuthRequest {
    if (step.kind === 'admin') return step.request;
    const user = this.userOf(client);
    assert(user !== null && sm !== null, 'a login is made by a client with a user, at a member');
    return login(user, this.passwords.get(user) ?? [], sm, origin);
  }

  /**
   * What a finished operation of `client` tells (history entries on AUTH_KEY) and teaches the
   * workload. `kvOp`: a KV operation (not a lease or auth one), `writes`: whether it writes.
   */
  record(client: number, step: AuthStep | undefined, kvOp: boolean, writes: boolean, outcome: 'ok' | 'unknown', result: KvOutcome | undefined,
    invokedAt: number, completedAt: number, nextId: () => number): Operation[] {
    const c = this.clients.get(client);
    if (c === undefined) return [];
    c.lastWasLogin = step?.kind === 'login';
    const base = { client, key: AUTH_KEY, invokedAt };
    const read = (on: boolean): Operation[] => [{ id: nextId(), ...base, completedAt, kind: 'read', outcome: 'ok', result: on ? 'on' : null }];
    const error = outcome === 'ok' && result !== undefined && !result.ok ? result.error : null;
    if (step?.kind === 'admin') this.learnAdmin(step, outcome, error);
    if (outcome === 'unknown' || result === undefined) {
      if (step?.kind !== 'admin' || (step.request.op !== 'auth-enable' && step.request.op !== 'auth-disable')) return [];
      const unknown = { id: nextId(), ...base, completedAt: Number.POSITIVE_INFINITY, outcome: 'unknown' as const };
      return [step.request.op === 'auth-enable' ? { ...unknown, kind: 'write', value: 'on' } : { ...unknown, kind: 'delete' }];
    }
    if (error === 'invalid-auth-token') c.loginNeeded = true;
    if (error !== null && AUTH_REFUSALS.has(error)) {
      if (c.role === 'admin') this.enabled = true; // (an enable whose answer was lost took effect)
      return read(true);
    }
    if (step?.kind === 'login') {
      // Logged in; or auth is off, and a refusal will say when a login is needed again.
      if (error === null || error === 'auth-not-enabled') c.loginNeeded = false;
      if (c.role === 'admin' && error === 'auth-not-enabled') this.enabled = false;
      return error === 'auth-not-enabled' ? read(false) : [];
    }
    if (step?.kind === 'admin') {
      if (error !== null) return [];
      if (step.request.op === 'auth-enable') return [{ id: nextId(), ...base, completedAt, kind: 'write', value: 'on', outcome: 'ok' }];
      if (step.request.op === 'auth-disable') return [{ id: nextId(), ...base, completedAt, kind: 'delete', outcome: 'ok' }];
      return [];
    }
    // A KV operation the client may not run took effect: auth was off.
    const permitted = c.role === 'admin' || c.role === 'writer' || (c.role === 'reader' && !writes);
    return kvOp && error === null && !permitted ? read(false) : [];
  }

  /**
   * A command a liar orders as its own client: an auth disable as root, whose login its member
   * never proved; or a binding of itself to root's session that it cannot sign (it never saw a
   * token of root's), which, were it taken, would let the next disable through.
   */
  liarCommand(random: Random, seq: number): Uint8Array {
    // A binding names no user (it would bind one), as the server's; a disable names root.
    if (random.chance(LIAR_BINDING_SHARE)) {
      return encodeKvCommand({ client: LIAR_CLIENT, seq, lowestPending: seq, request: { op: 'auth-login-use', name: 'root', binding: new Uint8Array(LOGIN_SIGNATURE_BYTES) } });
    }
    return encodeKvCommand({ client: LIAR_CLIENT, seq, lowestPending: seq, request: { op: 'auth-disable' }, user: 'root' });
  }

  private choice(step: AuthStep): AuthChoice {
    const label = step.kind === 'login' ? 'login' : step.request.op === 'user-change-password' ? `${step.request.op} ${step.request.name}` : step.request.op;
    return { kind: 'auth', step, label };
  }

  private makeSetup(): AuthStep[] {
    // Auth goes on as early as it may (runs are short, and slow under faults); the rest follows as root.
    const steps: AuthRequest[] = [
      { op: 'user-add', name: 'root', password: this.hash('root-pw') },
      { op: 'user-grant-role', user: 'root', role: 'root' },
      { op: 'auth-enable', tokenKey: this.bytes(TOKEN_KEY_BYTES) },
      { op: 'role-add', name: RW_ROLE },
      { op: 'role-grant-permission', name: RW_ROLE, perm: { permType: 'READWRITE', ...ALL_KEYS } },
      { op: 'role-add', name: RO_ROLE },
      { op: 'role-grant-permission', name: RO_ROLE, perm: { permType: 'READ', ...ALL_KEYS } },
    ];
    for (const c of this.clients.values()) {
      if (c.user === null || c.role === 'admin') continue;
      steps.push({ op: 'user-add', name: c.user, password: this.hash(this.passwords.get(c.user)![0]!) });
      steps.push({ op: 'user-grant-role', user: c.user, role: c.role === 'writer' ? RW_ROLE : RO_ROLE });
    }
    return steps.map((request) => ({ kind: 'admin', request, setup: true }));
  }

  private adminChange(random: Random): AuthStep {
    const users = [...this.passwords.keys()].filter((u) => u !== 'root');
    if (this.enabled && users.length > 0 && random.chance(0.6)) {
      const name = random.pick(users);
      const password = `${name}-pw${++this.passwordChanges}`;
      const candidates = this.passwords.get(name)!;
      candidates.push(password);
      if (candidates.length > MAX_PASSWORD_CANDIDATES) candidates.shift();
      return { kind: 'admin', request: { op: 'user-change-password', name, password: this.hash(password) }, setup: false };
    }
    const request: AuthRequest = this.enabled ? { op: 'auth-disable' } : { op: 'auth-enable', tokenKey: this.bytes(TOKEN_KEY_BYTES) };
    return { kind: 'admin', request, setup: false };
  }

  private learnAdmin(step: Extract<AuthStep, { kind: 'admin' }>, outcome: 'ok' | 'unknown', error: string | null): void {
    // A setup step is done once answered (a repeat of one whose answer was lost may be refused as
    // done already), but for a refusal of the administrator's void login: it is repeated after one.
    if (step.setup && outcome === 'ok' && error !== 'invalid-auth-token' && this.setup?.[0] === step) this.setup.shift();
    if (outcome === 'ok' && error === null) {
      if (step.request.op === 'auth-enable') this.enabled = true;
      if (step.request.op === 'auth-disable') this.enabled = false;
      if (step.request.op === 'user-change-password') this.passwords.set(step.request.name, this.passwords.get(step.request.name)!.slice(-1));
    }
  }

  private hash(password: string): PasswordHash {
    const salt = this.bytes(SALT_BYTES);
    const out = scrypt(password, salt, SIM_SCRYPT_COST);
    return { algorithm: 'scrypt', ...SIM_SCRYPT_COST, salt, hash: out.slice(0, HASH_BYTES), loginKey: loginKeyOf(out.subarray(HASH_BYTES)) };
  }

  private bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.random.int(0, 255);
    return b;
  }
}

function scrypt(password: string, salt: Uint8Array, cost: { readonly n: number; readonly r: number; readonly p: number }): Uint8Array {
  return new Uint8Array(scryptSync(password, salt, HASH_BYTES + LOGIN_SEED_BYTES, { N: cost.n, r: cost.r, p: cost.p }));
}

/**
 * A login as the server's Authenticate makes it at the member `origin` from that member's state:
 * the password checked against the stored hash, the session it opens signed with the key the
 * password yields, and the ordering member bound to that session.
 * A password the member's state does not take (or auth off there) signs with a key that is not
 * the user's: the state machines refuse it, as the server would have refused the password.
 */
function login(user: string, candidates: readonly string[], sm: KvStateMachine, origin: string): AuthRequest {
  const stored = sm.auth.passwordOf(user);
  const credentialRevision = sm.auth.credentialRevisionOf(user) ?? 0;
  const tokenKey = sm.auth.tokenKey ?? new Uint8Array(TOKEN_KEY_BYTES);
  let seed: Uint8Array = new Uint8Array(LOGIN_SEED_BYTES);
  for (const password of stored === null ? [] : candidates) {
    const out = scrypt(password, stored!.salt, stored!);
    if (out.byteLength === stored!.hash.byteLength + LOGIN_SEED_BYTES && timingSafeEqual(out.subarray(0, HASH_BYTES), stored!.hash)) {
      seed = out.subarray(HASH_BYTES);
      break;
    }
  }
  // The session the login opens, and the binding of the ordering member to it (see login-proof.ts).
  const generation = sm.auth.generation;
  const sessionSeed = sessionSeedOf(seed, credentialRevision, tokenKey, generation);
  const sessionKey = loginKeyOf(sessionSeed);
  return {
    op: 'auth-login', name: user, credentialRevision, sessionKey,
    signature: signLogin(seed, loginStatement(user, credentialRevision, sessionKey, tokenKey, generation)),
    binding: signLogin(sessionSeed, loginUseStatement(user, sessionKey, origin)),
  };
}
