/**
 * etcd's Auth service (users, roles, key-range permissions, tokens) and the checks the other
 * services call: `userOf(metadata)` to learn who sent a request, `checkRange(user, key, rangeEnd)`
 * before serving a read or creating a watch.
 *
 * Tokens: HMAC-SHA256 over (user, credential revision, expiry, nonce; under a Byzantine protocol
 * also the user's session seed, below) with a key drawn by the
 * member that enabled auth and replicated through the log, so every member verifies every token
 * and a client that fails over to another member keeps working without authenticating again.
 * (etcd's default "simple" tokens are accepted by every member too, each assigning the token as
 * it applies the Authenticate entry, but only in memory: a member that restarts forgets them.) A
 * token dies when it expires (DEFAULT_AUTH_TOKEN_TTL_MS after it was issued), when its user's
 * password changes or the user is deleted, and when auth is disabled (the key is dropped).
 *
 * Passwords are hashed once, by the member that receives UserAdd/UserChangePassword, with scrypt
 * and a fresh random salt; only the hash (and the public login key the password yields, see
 * login-proof.ts) goes through the log.
 *
 * Under a Byzantine protocol (`proveLogins`) a lying member knows the replicated token key and
 * could fill in any user, so a member acts as a user only once it is bound to a login of that
 * user (AuthStore.actsAs, login-proof.ts). Authenticate orders a login signed with the key only
 * the password yields, opening the user's session and binding this member to it; the token
 * carries the session's seed (besides the usual claims, signed with the replicated key as on
 * crash-fault protocols). Any member shown the token checks that seed against the session key in
 * the replicated state and, before it first acts as the user, orders a binding of its own signed
 * with the seed (`auth-login-use`), which every member verifies at apply. So a client that fails
 * over keeps its token, while a token a liar minted without the seed (anything in the replicated
 * state is the liar's too) is refused, and a lying member that never saw a token or the password
 * of a user cannot act as it. What a lying member shown a token can do: see the README (PBFT).
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  AUTH_ERROR_MESSAGES, type AuthErrorKind, type AuthRequest, type AuthUser, type KvOutcome, type KvRequest,
  type KvStateMachine, type PasswordHash, type Permission, type PermissionType,
} from '../statemachine/mvcc/index.js';
import { LOGIN_SEED_BYTES, loginKeyOf, loginStatement, loginUseStatement, sessionSeedOf, signLogin } from '../statemachine/mvcc/login-proof.js';
import type { PbHeader } from './convert.js';
import { authError, grpcError, kvError } from './grpc-errors.js';

/** Token lifetime (etcd --auth-token-ttl, 300 s). */
export const DEFAULT_AUTH_TOKEN_TTL_MS = 300_000;
/** Longest token accepted in the `token` metadata. */
export const MAX_TOKEN_BYTES = 4_096;
/** Longest password accepted, in UTF-8 bytes. */
export const MAX_PASSWORD_BYTES = 1_024;
/** Password hashes (UserAdd, UserChangePassword, Authenticate) computed at once on a member; more are refused. */
export const MAX_CONCURRENT_PASSWORD_HASHES = 4;
/** scrypt cost: N = 2^14, r = 8, p = 1 (16 MiB, tens of milliseconds), 16-byte salt, 32-byte hash. */
export const SCRYPT_COST = { n: 16_384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const TOKEN_KEY_BYTES = 32;
/**
 * Bindings (`auth-login-use`) being ordered at once on a member, one per user; more are refused
 * with "too many requests" (a client retries). Requests for a user whose binding is under way wait
 * for it instead of ordering another.
 */
export const MAX_PENDING_LOGIN_USES = 64;
/**
 * Session keys remembered per session seed (deriving one costs about 0.4 ms, and every request
 * with a token needs it under a Byzantine protocol); the oldest is forgotten beyond this. One
 * session per user is current at a time, so this covers that many users' clients at once.
 */
export const MAX_REMEMBERED_SESSION_KEYS = 1_024;

/** The gRPC metadata key a client puts its token in (as etcd). */
export const TOKEN_METADATA_KEY = 'token';

/**
 * The cancel_reason of a watch created on keys its user may not read (the text etcd sends: the
 * string of its gRPC status error).
 */
export const WATCH_PERMISSION_DENIED_REASON = 'rpc error: code = PermissionDenied desc = etcdserver: permission denied';


// ---- passwords -------------------------------------------------------------------------------

function scryptAsync(password: string, salt: Uint8Array, cost: { n: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // The first HASH_BYTES are the stored hash, the rest the login seed: scrypt's output blocks
    // are independent, so the hash does not reveal the seed (and equals a HASH_BYTES-long run's).
    scrypt(password, salt, HASH_BYTES + LOGIN_SEED_BYTES, { N: cost.n, r: cost.r, p: cost.p, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const out = await scryptAsync(password, salt, SCRYPT_COST);
  return { algorithm: 'scrypt', ...SCRYPT_COST, salt, hash: out.subarray(0, HASH_BYTES), loginKey: loginKeyOf(out.subarray(HASH_BYTES)) };
}

/** The password's login seed (login-proof.ts) when it is the right one, else null. */
export async function checkPassword(password: string, stored: PasswordHash): Promise<Uint8Array | null> {
  if (stored.algorithm !== 'scrypt' || stored.hash.byteLength !== HASH_BYTES) return null;
  const out = await scryptAsync(password, stored.salt, stored);
  return timingSafeEqual(out.subarray(0, HASH_BYTES), stored.hash) ? out.subarray(HASH_BYTES) : null;
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  return (await checkPassword(password, stored)) !== null;
}

// ---- tokens ----------------------------------------------------------------------------------

interface TokenClaims {
  /** User. */
  readonly u: string;
  /** The user's credential revision when the token was issued. */
  readonly c: number;
  /** Expiry, ms since the epoch (the issuing member's clock). */
  readonly e: number;
  /** Nonce: two tokens are never equal. */
  readonly n: string;
  /** Under a Byzantine protocol: the seed of the user's session (base64url; see login-proof.ts). */
  readonly s?: string;
}

function mac(key: Uint8Array, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

export function mintToken(key: Uint8Array, user: string, credentialRevision: number, ttlMs: number, nowMs: number, sessionSeed?: Uint8Array): string {
  const claims: TokenClaims = {
    u: user, c: credentialRevision, e: nowMs + ttlMs, n: randomBytes(8).toString('hex'),
    ...(sessionSeed === undefined ? {} : { s: Buffer.from(sessionSeed).toString('base64url') }),
  };
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** The claims of a well-signed token, or null. Expiry and credentials are the caller's to judge. */
export function readToken(key: Uint8Array, token: string): TokenClaims | null {
  if (token.length > MAX_TOKEN_BYTES) return null;
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(key, payload);
  if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<TokenClaims>;
    if (typeof claims.u !== 'string' || typeof claims.c !== 'number' || typeof claims.e !== 'number' || typeof claims.n !== 'string') return null;
    if (claims.s !== undefined && typeof claims.s !== 'string') return null;
    return claims as TokenClaims;
  } catch {
    return null;
  }
}

// ---- the service -----------------------------------------------------------------------------

export interface AuthServiceOptions {
  readonly kv: KvStateMachine;
  /** Put an auth change through the log on behalf of `user`. */
  readonly propose: (request: AuthRequest, user: AuthUser) => Promise<KvOutcome>;
  /** Wait until this member's state is at least as new as the cluster's commit point. */
  readonly readBarrier: () => Promise<void>;
  /** A response header at the current KV revision. */
  readonly header: () => PbHeader;
  /** Token lifetime; DEFAULT_AUTH_TOKEN_TTL_MS unless set. */
  readonly tokenTtlMs?: number;
  /**
   * Under a Byzantine protocol: this member's id as the state machine sees it (the origin of what
   * it orders). Authenticate then orders a proved login, tokens carry the user's session seed, and
   * a member shown a token binds itself to the session before it acts as the user.
   */
  readonly proveLogins?: { readonly origin: string };
}

/** Who sent a request: its user and, under proveLogins, the seed of the user's session its token carried. */
interface Caller {
  readonly user: string;
  readonly sessionSeed: Uint8Array | null;
}

interface PbPermission { permType?: string | number; key?: Buffer; range_end?: Buffer }

const PERMISSION_TYPES: readonly PermissionType[] = ['READ', 'WRITE', 'READWRITE'];
const EMPTY = Buffer.alloc(0);

export class AuthService {
  private readonly tokenTtlMs: number;
  private hashesInFlight = 0;
  /** Under proveLogins: the binding being ordered per user (at most MAX_PENDING_LOGIN_USES). */
  private readonly pendingUses = new Map<string, Promise<void>>();
  /** Under proveLogins: session seed (base64url, as tokens carry it) → its session key; at most MAX_REMEMBERED_SESSION_KEYS, oldest first. */
  private readonly sessionKeys = new Map<string, Buffer>();

  constructor(private readonly o: AuthServiceOptions) {
    this.tokenTtlMs = o.tokenTtlMs ?? DEFAULT_AUTH_TOKEN_TTL_MS;
  }

  /**
   * Who sent a request: the user its `token` metadata names, or null without a token (or while
   * auth is disabled, when tokens are ignored as etcd does). A bad, expired or revoked token is
   * refused with `etcdserver: invalid auth token`. A token this member cannot place (auth looks
   * disabled here, or the token was issued after changes this member has not applied yet) is
   * judged again after a read barrier, so a lagging member does not refuse a fresh token.
   */
  async userOf(metadata: grpc.Metadata): Promise<AuthUser> {
    return (await this.identify(metadata))?.user ?? null;
  }

  /**
   * userOf, for a request this member will order as that user (a write, an auth change, a lock):
   * under a Byzantine protocol, a member that is not bound to the user's session yet (the client
   * authenticated at another member) first orders its binding, proved with the token's session
   * seed, so that every member lets it act as the user.
   */
  async callerOf(metadata: grpc.Metadata): Promise<AuthUser> {
    const caller = await this.identify(metadata);
    if (caller === null) return null;
    await this.bind(caller);
    return caller.user;
  }

  /**
   * For a call that reads as its caller and may later order requests as it (a lock, an election,
   * a lease revoke): the user (userOf), judged once, and `acting()`, the user to order a request
   * as, binding this member as callerOf does when that is still needed. The token is not judged
   * again (a lock may wait long after the call began).
   */
  async caller(metadata: grpc.Metadata): Promise<{ readonly user: AuthUser; readonly acting: () => Promise<AuthUser> }> {
    const caller = await this.identify(metadata);
    if (caller === null) return { user: null, acting: () => Promise.resolve(null) };
    return { user: caller.user, acting: () => this.bind(caller).then(() => caller.user) };
  }

  private async bind(caller: Caller): Promise<void> {
    const prove = this.o.proveLogins;
    if (prove !== undefined && caller.sessionSeed !== null && !this.o.kv.auth.actsAs(prove.origin, caller.user)) {
      await this.useLogin(caller.user, caller.sessionSeed, prove.origin);
    }
  }

  private async identify(metadata: grpc.Metadata): Promise<Caller | null> {
    const value = metadata.get(TOKEN_METADATA_KEY)[0];
    if (value === undefined) return null;
    const token = typeof value === 'string' ? value : value.toString('utf8');
    if (this.o.kv.auth.enabled) {
      const caller = this.verify(token);
      if (caller !== null) return caller;
    }
    await this.o.readBarrier();
    if (!this.o.kv.auth.enabled) return null;
    const caller = this.verify(token);
    if (caller === null) throw authError('invalid-auth-token');
    return caller;
  }

  /**
   * Throws unless the caller may administer the cluster (Maintenance and Cluster changes, as etcd's
   * IsAdminPermitted): anyone while auth is disabled, else a user with the role root. Without a
   * token: "user name is empty"; another user: "permission denied"; a bad token: "invalid auth token".
   */
  async requireAdmin(metadata: grpc.Metadata): Promise<void> {
    const user = await this.userOf(metadata);
    // Allowed because auth looks disabled here? Only once this member has caught up: a member
    // that has not applied an `auth enable` yet would otherwise let anyone raise an alarm.
    if (user === null && !this.o.kv.auth.enabled) await this.o.readBarrier();
    const denied = this.o.kv.auth.checkAdmin(user);
    if (denied !== null) throw authError(denied);
  }

  /**
   * May `user` read [key, rangeEnd)? null if so, else the error to answer (etcd's "permission
   * denied", or "user name is empty" without a token). For range reads and for creating watches.
   */
  checkRange(user: AuthUser, key: Uint8Array, rangeEnd: Uint8Array): grpc.ServiceError | null {
    const denied = this.o.kv.auth.checkRange(user, key, rangeEnd);
    return denied === null ? null : authError(denied);
  }

  /**
   * For the Watch service: null when `user` may watch [key, rangeEnd), else the cancel_reason
   * of the response that creates and at once cancels the watch (etcd's text). Normalise the
   * request first as etcd does: an empty key means "\0" (every key from the smallest).
   */
  watchCancelReason(user: AuthUser, key: Uint8Array, rangeEnd: Uint8Array): string | null {
    return this.o.kv.auth.checkRange(user, key, rangeEnd) === null ? null : WATCH_PERMISSION_DENIED_REASON;
  }

  /** Throws unless `user` may run this KV request (every key it reads or writes). */
  checkRequest(user: AuthUser, request: KvRequest): void {
    const denied = this.o.kv.auth.checkRequest(user, request);
    if (denied !== null) throw authError(denied);
  }

  /** The Auth service's implementation, each method wrapped by the server's `unary` (request, metadata → response). */
  methods(unary: <Req>(handler: (request: Req, metadata: grpc.Metadata) => Promise<Record<string, unknown>>) => grpc.UntypedHandleCall): grpc.UntypedServiceImplementation {
    const m: grpc.UntypedServiceImplementation = {
      AuthEnable: unary((_: unknown, md: grpc.Metadata) => this.change(md, () => ({ op: 'auth-enable', tokenKey: randomBytes(TOKEN_KEY_BYTES) }))),
      AuthDisable: unary((_: unknown, md: grpc.Metadata) => this.change(md, () => ({ op: 'auth-disable' }))),
      AuthStatus: unary((_: unknown, md: grpc.Metadata) => this.query(md, (user) => {
        const s = this.o.kv.auth.status(user);
        return typeof s === 'string' ? s : { enabled: s.enabled, authRevision: s.authRevision };
      })),
      Authenticate: unary((req: { name?: string; password?: string }) => this.authenticate(req.name ?? '', req.password ?? '')),
      UserAdd: unary((req: { name?: string; password?: string; options?: { no_password?: boolean } | null; hashedPassword?: string }, md: grpc.Metadata) => {
        if ((req.hashedPassword ?? '') !== '') {
          throw grpcError(grpc.status.INVALID_ARGUMENT, 'etcdserver: hashedPassword is not supported: send the password, the server hashes it');
        }
        const name = req.name ?? '';
        return this.change(md, async () => ({
          op: 'user-add', name,
          password: req.options?.no_password === true ? null : await this.hash(req.password ?? ''),
        }), () => (name === '' ? 'user-empty' : null));
      }),
      UserDelete: unary((req: { name?: string }, md: grpc.Metadata) => this.change(md, () => ({ op: 'user-delete', name: req.name ?? '' }))),
      UserChangePassword: unary((req: { name?: string; password?: string; hashedPassword?: string }, md: grpc.Metadata) => {
        if ((req.hashedPassword ?? '') !== '') {
          throw grpcError(grpc.status.INVALID_ARGUMENT, 'etcdserver: hashedPassword is not supported: send the password, the server hashes it');
        }
        const name = req.name ?? '';
        return this.change(md, async () => ({ op: 'user-change-password', name, password: await this.hash(req.password ?? '') }));
      }),
      UserGrantRole: unary((req: { user?: string; role?: string }, md: grpc.Metadata) =>
        this.change(md, () => ({ op: 'user-grant-role', user: req.user ?? '', role: req.role ?? '' }))),
      UserRevokeRole: unary((req: { name?: string; role?: string }, md: grpc.Metadata) =>
        this.change(md, () => ({ op: 'user-revoke-role', name: req.name ?? '', role: req.role ?? '' }))),
      UserGet: unary((req: { name?: string }, md: grpc.Metadata) => this.query(md, (user) => {
        const roles = this.o.kv.auth.userGet(user, req.name ?? '');
        return typeof roles === 'string' ? roles : { roles };
      })),
      UserList: unary((_: unknown, md: grpc.Metadata) => this.query(md, (user) => {
        const users = this.o.kv.auth.userList(user);
        return typeof users === 'string' ? users : { users };
      })),
      RoleAdd: unary((req: { name?: string }, md: grpc.Metadata) => this.change(md, () => ({ op: 'role-add', name: req.name ?? '' }))),
      RoleDelete: unary((req: { role?: string }, md: grpc.Metadata) => this.change(md, () => ({ op: 'role-delete', role: req.role ?? '' }))),
      RoleGet: unary((req: { role?: string }, md: grpc.Metadata) => this.query(md, (user) => {
        const perms = this.o.kv.auth.roleGet(user, req.role ?? '');
        return typeof perms === 'string' ? perms : { perm: perms.map((p) => ({ permType: p.permType, key: p.key, range_end: p.rangeEnd })) };
      })),
      RoleList: unary((_: unknown, md: grpc.Metadata) => this.query(md, (user) => {
        const roles = this.o.kv.auth.roleList(user);
        return typeof roles === 'string' ? roles : { roles };
      })),
      RoleGrantPermission: unary((req: { name?: string; perm?: PbPermission | null }, md: grpc.Metadata) => {
        const perm = req.perm == null ? null : toPermission(req.perm);
        if (perm === null) throw authError('permission-not-given');
        return this.change(md, () => ({ op: 'role-grant-permission', name: req.name ?? '', perm }));
      }),
      RoleRevokePermission: unary((req: { role?: string; key?: Buffer; range_end?: Buffer }, md: grpc.Metadata) =>
        this.change(md, () => ({ op: 'role-revoke-permission', role: req.role ?? '', key: req.key ?? EMPTY, rangeEnd: req.range_end ?? EMPTY }))),
    };
    return m;
  }

  // ---- internals -------------------------------------------------------------------------------

  /**
   * An auth change: refused early (without a log entry or a password hash) when the sender is
   * not an administrator, then put through the log, where apply checks again against the state
   * at that point.
   */
  private async change(metadata: grpc.Metadata, build: () => AuthRequest | Promise<AuthRequest>, precheck?: () => AuthErrorKind | null): Promise<Record<string, unknown>> {
    const user = await this.callerOf(metadata);
    const denied = this.o.kv.auth.checkAdmin(user) ?? precheck?.() ?? null;
    if (denied !== null) throw authError(denied);
    const outcome = await this.o.propose(await build(), user);
    if (!outcome.ok) throw kvError(outcome.error);
    return { header: this.o.header() };
  }

  /** A read of the auth state, linearizable (after a read barrier). */
  private async query(metadata: grpc.Metadata, read: (user: AuthUser) => AuthErrorKind | Record<string, unknown>): Promise<Record<string, unknown>> {
    const user = await this.userOf(metadata);
    await this.o.readBarrier();
    const result = read(user);
    if (typeof result === 'string') throw authError(result);
    return { header: this.o.header(), ...result };
  }

  private async authenticate(name: string, password: string): Promise<Record<string, unknown>> {
    await this.o.readBarrier();
    const auth = this.o.kv.auth;
    if (!auth.enabled) throw authError('auth-not-enabled');
    const stored = auth.passwordOf(name);
    const credentialRevision = auth.credentialRevisionOf(name);
    if (stored === null || credentialRevision === null || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw authError('auth-failed');
    const seed = await this.bounded(() => checkPassword(password, stored));
    const ok = seed !== null;
    if (ok && auth.enabled && auth.tokenKey === null) await this.issueTokenKey();
    const sessionSeed = ok && this.o.proveLogins !== undefined
      ? await this.proveLogin(name, credentialRevision, seed, stored, this.o.proveLogins.origin)
      : undefined;
    // The state may have moved on while the hash was computed: issue only for what is still true.
    const key = auth.tokenKey;
    if (!ok || key === null || auth.credentialRevisionOf(name) !== credentialRevision) throw authError('auth-failed');
    return { header: this.o.header(), token: mintToken(key, name, credentialRevision, this.tokenTtlMs, Date.now(), sessionSeed) };
  }

  /**
   * Order the login that opens `name`'s session and binds this member to it (Byzantine
   * protocols); the session's seed, for the token. A user whose hash predates login keys cannot
   * prove one: it must change its password first.
   */
  private async proveLogin(name: string, credentialRevision: number, seed: Uint8Array, stored: PasswordHash, origin: string): Promise<Uint8Array> {
    const auth = this.o.kv.auth;
    const tokenKey = auth.tokenKey;
    if (stored.loginKey === undefined || tokenKey === null) throw authError('auth-failed');
    const sessionSeed = sessionSeedOf(seed, credentialRevision, tokenKey, auth.generation);
    const sessionKey = loginKeyOf(sessionSeed);
    const current = auth.sessionKeyOf(name);
    const opened = current !== null && Buffer.from(current).equals(sessionKey);
    // Already opened and bound here (applied, so replicated: it survives restarts in the WAL and
    // snapshots): nothing to order. Should it be voided meanwhile, the token dies with it anyway.
    if (opened && auth.holdsLogin(origin, name, credentialRevision)) return sessionSeed;
    const binding = signLogin(sessionSeed, loginUseStatement(name, sessionKey, origin));
    // Opened through another member: a binding is enough (and cheaper to check at apply).
    const request: AuthRequest = opened
      ? { op: 'auth-login-use', name, binding }
      : { op: 'auth-login', name, credentialRevision, signature: signLogin(seed, loginStatement(name, credentialRevision, sessionKey, tokenKey, auth.generation)), sessionKey, binding };
    const outcome = await this.o.propose(request, null);
    if (!outcome.ok) throw kvError(outcome.error);
    return sessionSeed;
  }

  /**
   * Order this member's binding to `user`'s session (a client showed it a token with the seed),
   * once per user at a time: concurrent requests share the one under way.
   */
  private useLogin(user: string, sessionSeed: Uint8Array, origin: string): Promise<void> {
    const pending = this.pendingUses.get(user);
    if (pending !== undefined) return pending;
    if (this.pendingUses.size >= MAX_PENDING_LOGIN_USES) {
      throw grpcError(grpc.status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests');
    }
    const binding = signLogin(sessionSeed, loginUseStatement(user, loginKeyOf(sessionSeed), origin));
    const ordered = this.o.propose({ op: 'auth-login-use', name: user, binding }, null).then((outcome) => {
      if (!outcome.ok) throw kvError(outcome.error);
    }).finally(() => this.pendingUses.delete(user));
    this.pendingUses.set(user, ordered);
    return ordered;
  }

  /**
   * Give a cluster restored from a client's snapshot (which carries no token key) a key of its
   * own, through the log so that every member verifies the same tokens.
   */
  private async issueTokenKey(): Promise<void> {
    const outcome = await this.o.propose({ op: 'auth-token-key', tokenKey: randomBytes(TOKEN_KEY_BYTES) }, null);
    if (!outcome.ok) throw kvError(outcome.error);
  }

  private hash(password: string): Promise<PasswordHash> {
    if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
      return Promise.reject(grpcError(grpc.status.INVALID_ARGUMENT, `etcdserver: password is longer than ${MAX_PASSWORD_BYTES} bytes`));
    }
    return this.bounded(() => hashPassword(password));
  }

  private async bounded<T>(work: () => Promise<T>): Promise<T> {
    if (this.hashesInFlight >= MAX_CONCURRENT_PASSWORD_HASHES) {
      throw grpcError(grpc.status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests');
    }
    this.hashesInFlight += 1;
    try {
      return await work();
    } finally {
      this.hashesInFlight -= 1;
    }
  }

  /**
   * The caller a token names, or null when it is not good here (yet). Under proveLogins the token
   * must also carry the seed of its user's current session: the replicated key that signs tokens
   * is a liar's too, the seed is not.
   */
  private verify(token: string): Caller | null {
    const auth = this.o.kv.auth;
    const key = auth.tokenKey;
    if (key === null) return null;
    const claims = readToken(key, token);
    if (claims === null || claims.e <= Date.now() || auth.credentialRevisionOf(claims.u) !== claims.c) return null;
    if (this.o.proveLogins === undefined) return { user: claims.u, sessionSeed: null };
    const sessionKey = auth.sessionKeyOf(claims.u);
    if (sessionKey === null || claims.s === undefined) return null;
    const sessionSeed = Buffer.from(claims.s, 'base64url');
    if (sessionSeed.byteLength !== LOGIN_SEED_BYTES || !Buffer.from(sessionKey).equals(this.sessionKeyOfSeed(claims.s, sessionSeed))) return null;
    return { user: claims.u, sessionSeed: new Uint8Array(sessionSeed) };
  }

  private sessionKeyOfSeed(encoded: string, seed: Uint8Array): Buffer {
    let key = this.sessionKeys.get(encoded);
    if (key === undefined) {
      key = Buffer.from(loginKeyOf(seed));
      if (this.sessionKeys.size >= MAX_REMEMBERED_SESSION_KEYS) this.sessionKeys.delete(this.sessionKeys.keys().next().value!);
      this.sessionKeys.set(encoded, key);
    }
    return key;
  }
}

function toPermission(p: PbPermission): Permission | null {
  const t = p.permType ?? 'READ';
  const permType = typeof t === 'number' ? PERMISSION_TYPES[t] : PERMISSION_TYPES.find((x) => x === t);
  if (permType === undefined) return null;
  return { permType, key: p.key ?? EMPTY, rangeEnd: p.range_end ?? EMPTY };
}
