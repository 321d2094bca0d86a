/**
 * The replicated auth state of the etcd API: whether auth is enabled, users (with salted
 * password hashes), roles, key-range permissions, the auth revision and the cluster's token
 * key. It lives in the KV state machine, so every member applies the same changes in log order
 * and the state is part of every snapshot.
 *
 * Apply is deterministic: the member that receives a request does everything random or slow
 * first (hashing a password with a fresh salt, drawing a token key) and proposes only the
 * result; a password never enters the log.
 *
 * etcd's rules, kept here: auth can be enabled only when a user `root` exists and holds the role
 * `root`; a user with the role `root` may do everything; while auth is enabled the root user
 * cannot be deleted, nor lose its root role, and the root role cannot be deleted; while auth is
 * disabled every request is allowed. Permissions are checked at apply for writes (against the
 * state at that point of the log) and after the read barrier for reads.
 */
import { assert } from '../../core/assert.js';
import { keyString } from './key-index.js';
import { legacyLoginStatement, LOGIN_KEY_BYTES, loginEpoch, loginStatement, loginUseStatement, verifyLogin } from './login-proof.js';
import type { Bytes, KvRequest, TxnOp } from './requests.js';

// ---- errors ------------------------------------------------------------------------------

export type AuthErrorKind =
  | 'root-user-not-exist'
  | 'root-role-not-exist'
  | 'user-already-exist'
  | 'user-empty'
  | 'user-not-found'
  | 'role-already-exist'
  | 'role-not-found'
  | 'role-empty'
  | 'auth-failed'
  | 'permission-denied'
  | 'role-not-granted'
  | 'permission-not-granted'
  | 'permission-not-given'
  | 'auth-not-enabled'
  | 'invalid-auth-token'
  | 'invalid-auth-mgmt'
  | 'too-many-users'
  | 'too-many-roles'
  | 'too-many-roles-per-user'
  | 'too-many-permissions'
  | 'too-many-permission-bytes'
  | 'name-too-long';

// ---- limits ------------------------------------------------------------------------------

/** Limits of the replicated auth state. Constants, not flags: every member must apply alike. */
export const MAX_AUTH_USERS = 10_000;
export const MAX_AUTH_ROLES = 10_000;
export const MAX_ROLES_PER_USER = 256;
export const MAX_PERMISSIONS_PER_ROLE = 1_024;
/**
 * The keys and range ends of every role's permissions, summed, are at most this many bytes. The
 * counts above alone let 10,000 roles of 1,024 permissions each hold keys of up to a request's
 * size (1.5 MiB): terabytes, none of it counted by the backend quota, so that permission grants
 * could take a member out of memory before any write was refused. Permissions are prefixes and
 * ranges: this is thousands of times what a real cluster's roles hold.
 */
export const MAX_AUTH_PERMISSION_BYTES = 16 * 1024 * 1024;
/**
 * What one permission counts towards MAX_AUTH_PERMISSION_BYTES besides its key and range end: the
 * heap it holds as an object with two byte arrays of its own (measured about 450 bytes on Node 20
 * for a 2-byte key). Without it the bound held only the key bytes: about 8 million permissions
 * of 2-byte keys fit in 16 MiB (the counts allow 10 million), 3.8 GB of heap.
 */
export const PERMISSION_OVERHEAD_BYTES = 512;
/**
 * What one interval of a per-user union counts towards MAX_MERGED_PERMISSION_BYTES besides its
 * characters: the object, its two strings' headers and the array slot.
 */
export const MERGED_INTERVAL_OVERHEAD_BYTES = 128;
/**
 * The per-user permission unions (a cache, rebuilt on demand) hold about this many bytes of keys
 * at most: when the next union would take them past it, every cached one is dropped first. Each user's union copies the
 * keys of every role it holds, so without a bound 10,000 users holding the same roles would hold
 * 10,000 copies of MAX_AUTH_PERMISSION_BYTES.
 */
export const MAX_MERGED_PERMISSION_BYTES = 64 * 1024 * 1024;
/** Longest user or role name, in UTF-8 bytes. */
export const MAX_AUTH_NAME_BYTES = 256;
/** Shortest token key auth may be enabled with (128 bits). */
export const MIN_TOKEN_KEY_BYTES = 16;

/** etcd's texts, word for word: etcd clients match on them (etcdctl's `auth enable` does). */
export const AUTH_ERROR_MESSAGES: Readonly<Record<AuthErrorKind, string>> = {
  'root-user-not-exist': 'etcdserver: root user does not exist',
  'root-role-not-exist': 'etcdserver: root user does not have root role',
  'user-already-exist': 'etcdserver: user name already exists',
  'user-empty': 'etcdserver: user name is empty',
  'user-not-found': 'etcdserver: user name not found',
  'role-already-exist': 'etcdserver: role name already exists',
  'role-not-found': 'etcdserver: role name not found',
  'role-empty': 'etcdserver: role name is empty',
  'auth-failed': 'etcdserver: authentication failed, invalid user ID or password',
  'permission-denied': 'etcdserver: permission denied',
  'role-not-granted': 'etcdserver: role is not granted to the user',
  'permission-not-granted': 'etcdserver: permission is not granted to the role',
  'permission-not-given': 'etcdserver: permission not given',
  'auth-not-enabled': 'etcdserver: authentication is not enabled',
  'invalid-auth-token': 'etcdserver: invalid auth token',
  'invalid-auth-mgmt': 'etcdserver: invalid auth management',
  // quorate's own (etcd has no such limits):
  'too-many-users': `etcdserver: too many users (at most ${MAX_AUTH_USERS}); delete unused users first`,
  'too-many-roles': `etcdserver: too many roles (at most ${MAX_AUTH_ROLES}); delete unused roles first`,
  'too-many-roles-per-user': `etcdserver: too many roles granted to the user (at most ${MAX_ROLES_PER_USER})`,
  'too-many-permissions': `etcdserver: too many permissions in the role (at most ${MAX_PERMISSIONS_PER_ROLE}); merge ranges or use prefixes`,
  'too-many-permission-bytes': `etcdserver: the roles' permissions hold too many bytes (at most ${MAX_AUTH_PERMISSION_BYTES} in all, keys and range ends and ${PERMISSION_OVERHEAD_BYTES} for each permission); revoke unused permissions or use shorter prefixes`,
  'name-too-long': `etcdserver: user or role name is longer than ${MAX_AUTH_NAME_BYTES} bytes`,
};

export function isAuthErrorKind(s: unknown): s is AuthErrorKind {
  return typeof s === 'string' && Object.hasOwn(AUTH_ERROR_MESSAGES, s);
}

// ---- records and requests ------------------------------------------------------------------

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

/** A salted scrypt hash, with the cost parameters it was made with. */
export interface PasswordHash {
  readonly algorithm: 'scrypt';
  readonly n: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
  /**
   * The Ed25519 public key the password yields (see login-proof.ts); absent in hashes made before
   * logins were proved, whose users must change their password to log in under a Byzantine protocol.
   */
  readonly loginKey?: Uint8Array;
}

export type PermissionType = 'READ' | 'WRITE' | 'READWRITE';

export interface Permission {
  readonly permType: PermissionType;
  readonly key: Bytes;
  /** Conventions as a range request's: empty = the single key, one zero byte = every key >= key. */
  readonly rangeEnd: Bytes;
}

interface User {
  /** null: the user was added with no password and cannot authenticate with one. */
  password: PasswordHash | null;
  /** Sorted. */
  roles: string[];
  /**
   * The auth revision at which this user was added or last changed password. Tokens carry it,
   * so a password change or a delete-and-re-add invalidates the tokens issued before.
   */
  credentialRevision: number;
}

interface Role {
  /** Sorted by key, then range end; at most one per (key, range end). */
  permissions: Permission[];
}

export type AuthRequest =
  | { readonly op: 'auth-enable'; readonly tokenKey: Uint8Array }
  | { readonly op: 'auth-disable' }
  /**
   * A token key for a cluster that has auth enabled but no key: one restored from a client's
   * snapshot, which never carries the key (see snapshot()). A member proposes it itself on the
   * first Authenticate; the first one applied wins, later ones change nothing.
   */
  | { readonly op: 'auth-token-key'; readonly tokenKey: Uint8Array }
  /**
   * Under a Byzantine protocol: a client authenticated as `name` through the member that ordered
   * this, proved by a signature only the password yields (see login-proof.ts), opening the session
   * `sessionKey`; `binding`, signed with the session's seed, binds the ordering member to it. From
   * then on that member may order commands as `name` until the user's credentials change or auth
   * is disabled. Without `sessionKey` and `binding`: a login from before sessions, whose
   * signature names the ordering member (still applied alike, never made any more).
   */
  | {
    readonly op: 'auth-login'; readonly name: string; readonly credentialRevision: number; readonly signature: Uint8Array;
    readonly sessionKey?: Uint8Array; readonly binding?: Uint8Array;
  }
  /**
   * Under a Byzantine protocol: a client showed the ordering member a token of `name`'s current
   * session, whose seed signed `binding` (naming that member): the member may then order commands
   * as `name`, as if the client had logged in through it.
   */
  | { readonly op: 'auth-login-use'; readonly name: string; readonly binding: Uint8Array }
  | { readonly op: 'user-add'; readonly name: string; readonly password: PasswordHash | null }
  | { readonly op: 'user-delete'; readonly name: string }
  | { readonly op: 'user-change-password'; readonly name: string; readonly password: PasswordHash }
  | { readonly op: 'user-grant-role'; readonly user: string; readonly role: string }
  | { readonly op: 'user-revoke-role'; readonly name: string; readonly role: string }
  | { readonly op: 'role-add'; readonly name: string }
  | { readonly op: 'role-delete'; readonly role: string }
  | { readonly op: 'role-grant-permission'; readonly name: string; readonly perm: Permission }
  | { readonly op: 'role-revoke-permission'; readonly role: string; readonly key: Bytes; readonly rangeEnd: Bytes };

const AUTH_OPS: ReadonlySet<string> = new Set<AuthRequest['op']>([
  'auth-enable', 'auth-disable', 'auth-token-key', 'auth-login', 'auth-login-use', 'user-add', 'user-delete', 'user-change-password', 'user-grant-role',
  'user-revoke-role', 'role-add', 'role-delete', 'role-grant-permission', 'role-revoke-permission',
]);

export function isAuthRequest(req: { readonly op: string }): req is AuthRequest {
  return AUTH_OPS.has(req.op);
}

export interface AuthResult {
  readonly op: 'auth';
  /** The KV store's revision (for the response header). */
  readonly revision: number;
}

/** Who sent a request: the user its token names, or null when it carried no token. */
export type AuthUser = string | null;

// ---- key intervals ---------------------------------------------------------------------------

/** [from, to) over keys as latin1 strings (byte order); `to === null` is unbounded. */
interface Interval {
  readonly from: string;
  readonly to: string | null;
}

const ZERO = '\u0000';

function intervalOf(key: Bytes, rangeEnd: Bytes): Interval {
  const from = keyString(key);
  if (rangeEnd.byteLength === 0) return { from, to: from + ZERO }; // the key alone
  const to = keyString(rangeEnd);
  if (to === ZERO) return { from, to: null };
  return { from, to };
}

/** Is [want.from, want.to) inside the union of `have` (sorted by `from`)? */
function covers(have: readonly Interval[], want: Interval): boolean {
  // A range whose end is not after its start selects no key; judge it by its first key.
  const to = want.to !== null && want.to <= want.from ? want.from + ZERO : want.to;
  let cursor = want.from;
  for (const iv of have) {
    if (iv.from > cursor) return false;
    if (iv.to === null) return true;
    if (iv.to > cursor) cursor = iv.to;
    if (to !== null && cursor >= to) return true;
  }
  return false;
}

/** What one permission counts towards MAX_AUTH_PERMISSION_BYTES: its key, range end and PERMISSION_OVERHEAD_BYTES. */
function permissionBytes(p: Permission): number {
  return PERMISSION_OVERHEAD_BYTES + p.key.byteLength + p.rangeEnd.byteLength;
}

function rolePermissionBytes(role: Role): number {
  let n = 0;
  for (const p of role.permissions) n += permissionBytes(p);
  return n;
}

/**
 * Bytes of their own. A decoded command's or snapshot's binary fields are views of the frame, WAL
 * segment or snapshot they came in: one kept view keeps that whole buffer alive (a restored
 * snapshot's, the size of the store), uncounted by any quota.
 */
function own(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function ownHash(h: PasswordHash): PasswordHash {
  return { ...h, salt: own(h.salt), hash: own(h.hash), ...(h.loginKey === undefined || h.loginKey === null ? {} : { loginKey: own(h.loginKey) }) };
}

function comparePermissions(a: Permission, b: Permission): number {
  return Buffer.compare(a.key, b.key) || Buffer.compare(a.rangeEnd, b.rangeEnd);
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

interface MergedPermissions {
  readonly read: Interval[];
  readonly write: Interval[];
}

// ---- the store -----------------------------------------------------------------------------

const SNAPSHOT_FORMAT = 1;

/** A proved login (see AuthStore.logins). */
interface Login {
  readonly credentialRevision: number;
  readonly epoch: string;
}

/** A user's session (see AuthStore.sessions). */
interface Session extends Login {
  /** The Ed25519 public key of the session's seed, which the user's tokens carry. */
  readonly sessionKey: Uint8Array;
}

export class AuthStore {
  private enabledFlag = false;
  /** Bumped by every change of users, roles, permissions or the enabled flag (etcd's auth revision). */
  private authRevision = 1;
  /** Key of the HMAC that signs tokens; drawn anew by each enable, dropped by disable. */
  private tokenKeyBytes: Uint8Array | null = null;
  private users = new Map<string, User>();
  private roles = new Map<string, Role>();
  /** Per-user union of the roles' permissions; cleared by every change, and past MAX_MERGED_PERMISSION_BYTES. */
  private merged = new Map<string, MergedPermissions>();
  /** The key bytes `merged` holds (the lengths of every cached interval's from and to), summed. */
  private mergedBytes = 0;
  /** permissionBytes over every role's permissions, kept as they change; at most MAX_AUTH_PERMISSION_BYTES after a grant. */
  private heldPermissionBytes = 0;
  /**
   * Proved logins (Byzantine protocols), the members bound to a user's session: member → user →
   * the user's credential revision at the login and the digest of the token key it named
   * (loginEpoch). At most one entry per user and member; dropped with the user, all dropped when
   * auth is disabled.
   */
  private logins = new Map<string, Map<string, Login>>();
  /**
   * The session a proved login opened, per user (Byzantine protocols): the session key, with the
   * credential revision and token key digest it was opened at. At most one per user (a session
   * is fixed by the password, credentials and token key: login-proof.ts); a later login replaces
   * it; dropped with the user and its credentials, all dropped when auth is disabled.
   */
  private sessions = new Map<string, Session>();
  /**
   * How many times this state was restored from a client's snapshot as a new cluster (0: never).
   * Sessions name it (login-proof.ts), so a restored cluster never reopens its old cluster's
   * sessions, whatever token key fills its missing one. Changed only by newCluster(), never at apply.
   */
  private clusterGeneration = 0;
  /** loginEpoch of the token key in force (computed once per key), or null. */
  private epochOf: { key: Uint8Array; epoch: string } | null = null;

  /** Test-only: `trust-login-use` (see STATE_MACHINE_MUTANTS), or undefined. */
  constructor(private readonly options: { readonly mutant?: 'trust-login-use' } = {}) {}

  get enabled(): boolean {
    return this.enabledFlag;
  }

  get revision(): number {
    return this.authRevision;
  }

  /** The key and range end bytes of every role's permissions (see MAX_AUTH_PERMISSION_BYTES). */
  get permissionBytes(): number {
    return this.heldPermissionBytes;
  }

  /** See clusterGeneration. */
  get generation(): number {
    return this.clusterGeneration;
  }

  /**
   * This state starts a new cluster (a snapshot restored as one): a new generation, and nothing of
   * the old cluster's token key, logins and sessions (a client's snapshot carries none of them).
   */
  newCluster(): void {
    this.tokenKeyBytes = null;
    this.logins = new Map();
    this.sessions = new Map();
    this.clusterGeneration += 1;
  }

  /** The token key while auth is enabled. */
  get tokenKey(): Uint8Array | null {
    return this.enabledFlag ? this.tokenKeyBytes : null;
  }

  /** The user's password hash, or null when the user does not exist or has no password. */
  passwordOf(name: string): PasswordHash | null {
    return this.users.get(name)?.password ?? null;
  }

  /** The user's credential revision (tokens must carry it), or null when there is no such user. */
  credentialRevisionOf(name: string): number | null {
    return this.users.get(name)?.credentialRevision ?? null;
  }

  // ---- permission checks (pure reads of the current state) ----------------------------------

  /**
   * Under a Byzantine protocol: may `origin` order commands as `user`? Only once it is bound to a
   * login of the user's current credentials: an `auth-login` it ordered (the password's proof),
   * or an `auth-login-use` it ordered (a token of the user's current session was shown to it).
   */
  actsAs(origin: string, user: string): boolean {
    const u = this.users.get(user);
    return u !== undefined && this.holdsLogin(origin, user, u.credentialRevision);
  }

  /**
   * Does `origin` hold a proved login of `user` at `credentialRevision`, under the token key in
   * force? (Then a member need not order another one: Authenticate skips it.)
   */
  holdsLogin(origin: string, user: string, credentialRevision: number): boolean {
    const login = this.logins.get(origin)?.get(user);
    const epoch = this.currentEpoch();
    return login !== undefined && epoch !== null && login.credentialRevision === credentialRevision && login.epoch === epoch;
  }

  /**
   * The session key of `user`'s current session (its credentials and the token key in force), or
   * null. A token of `user` is good for binding a member only with this key's seed.
   */
  sessionKeyOf(user: string): Uint8Array | null {
    const session = this.sessions.get(user);
    const epoch = this.currentEpoch();
    const credentialRevision = this.users.get(user)?.credentialRevision;
    if (session === undefined || epoch === null || session.epoch !== epoch || session.credentialRevision !== credentialRevision) return null;
    return session.sessionKey;
  }

  private currentEpoch(): string | null {
    const key = this.tokenKeyBytes;
    if (key === null) return null;
    if (this.epochOf?.key !== key) this.epochOf = { key, epoch: loginEpoch(key) };
    return this.epochOf.epoch;
  }

  /** Whether `user` may administer auth and compaction: anyone while auth is disabled, else root. */
  checkAdmin(user: AuthUser): AuthErrorKind | null {
    if (!this.enabledFlag) return null;
    if (user === null || user === '') return 'user-empty';
    const u = this.users.get(user);
    if (u === undefined) return 'user-not-found';
    return u.roles.includes(ROOT_ROLE) ? null : 'permission-denied';
  }

  /** May `user` read [key, rangeEnd) (range conventions as a RangeRequest's)? Also what a watch needs. */
  checkRange(user: AuthUser, key: Bytes, rangeEnd: Bytes): AuthErrorKind | null {
    return this.checkKeys(user, 'read', key, rangeEnd);
  }

  /** May `user` write (put or delete) [key, rangeEnd)? */
  checkWrite(user: AuthUser, key: Bytes, rangeEnd: Bytes): AuthErrorKind | null {
    return this.checkKeys(user, 'write', key, rangeEnd);
  }

  /** May `user` run this KV request? Every key it reads or writes is checked, as etcd does. */
  checkRequest(user: AuthUser, req: KvRequest): AuthErrorKind | null {
    if (!this.enabledFlag) return null;
    if (req.op === 'compact') {
      const denied = this.checkAdmin(user);
      return denied === 'user-not-found' ? 'permission-denied' : denied;
    }
    return this.checkOp(user, req);
  }

  private checkOp(user: AuthUser, req: TxnOp): AuthErrorKind | null {
    switch (req.op) {
      case 'range':
        return this.checkRange(user, req.key, req.rangeEnd);
      case 'put':
        return this.checkWrite(user, req.key, EMPTY) ?? (req.prevKv ? this.checkRange(user, req.key, EMPTY) : null);
      case 'delete':
        return this.checkWrite(user, req.key, req.rangeEnd) ?? (req.prevKv ? this.checkRange(user, req.key, req.rangeEnd) : null);
      case 'txn':
        for (const c of req.compare) {
          const denied = this.checkRange(user, c.key, c.rangeEnd);
          if (denied !== null) return denied;
        }
        for (const op of [...req.success, ...req.failure]) {
          const denied = this.checkOp(user, op);
          if (denied !== null) return denied;
        }
        return null;
    }
  }

  private checkKeys(user: AuthUser, kind: 'read' | 'write', key: Bytes, rangeEnd: Bytes): AuthErrorKind | null {
    if (!this.enabledFlag) return null;
    if (user === null || user === '') return 'user-empty';
    const u = this.users.get(user);
    if (u === undefined) return 'permission-denied';
    if (u.roles.includes(ROOT_ROLE)) return null;
    const perms = this.mergedFor(user, u);
    return covers(kind === 'read' ? perms.read : perms.write, intervalOf(key, rangeEnd)) ? null : 'permission-denied';
  }

  private mergedFor(name: string, u: User): MergedPermissions {
    let m = this.merged.get(name);
    if (m === undefined) {
      const read: Interval[] = [];
      const write: Interval[] = [];
      for (const roleName of u.roles) {
        for (const p of this.roles.get(roleName)?.permissions ?? []) {
          const iv = intervalOf(p.key, p.rangeEnd);
          if (p.permType !== 'WRITE') read.push(iv);
          if (p.permType !== 'READ') write.push(iv);
        }
      }
      const byFrom = (a: Interval, b: Interval): number => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0);
      m = { read: read.sort(byFrom), write: write.sort(byFrom) };
      let bytes = 0;
      for (const iv of [...read, ...write]) bytes += MERGED_INTERVAL_OVERHEAD_BYTES + iv.from.length + (iv.to?.length ?? 0);
      if (this.mergedBytes + bytes > MAX_MERGED_PERMISSION_BYTES) this.clearMerged();
      this.merged.set(name, m);
      this.mergedBytes += bytes;
    }
    return m;
  }

  private clearMerged(): void {
    this.merged.clear();
    this.mergedBytes = 0;
  }

  /** The key bytes the per-user permission unions hold now (at most about MAX_MERGED_PERMISSION_BYTES). */
  get mergedPermissionBytes(): number {
    return this.mergedBytes;
  }

  // ---- reads of the auth API -------------------------------------------------------------------

  status(user: AuthUser): AuthErrorKind | { enabled: boolean; authRevision: number } {
    return this.checkAdmin(user) ?? { enabled: this.enabledFlag, authRevision: this.authRevision };
  }

  /** A user's roles: for root, or for the user itself. */
  userGet(user: AuthUser, name: string): AuthErrorKind | string[] {
    const denied = this.checkAdmin(user);
    if (denied !== null && name !== user) return denied;
    const u = this.users.get(name);
    return u === undefined ? 'user-not-found' : [...u.roles];
  }

  userList(user: AuthUser): AuthErrorKind | string[] {
    return this.checkAdmin(user) ?? [...this.users.keys()].sort();
  }

  /** A role's permissions: for root, or for a user holding the role. The root role shows as all keys, read-write. */
  roleGet(user: AuthUser, name: string): AuthErrorKind | Permission[] {
    const denied = this.checkAdmin(user);
    if (denied !== null && !(user !== null && this.users.get(user)?.roles.includes(name) === true)) return denied;
    const role = this.roles.get(name);
    if (role === undefined) return 'role-not-found';
    if (name === ROOT_ROLE) return [{ permType: 'READWRITE', key: EMPTY, rangeEnd: ZERO_BYTE }];
    return [...role.permissions];
  }

  roleList(user: AuthUser): AuthErrorKind | string[] {
    return this.checkAdmin(user) ?? [...this.roles.keys()].sort();
  }

  // ---- apply -------------------------------------------------------------------------------

  /**
   * Apply one committed auth change on behalf of `user`; null when it took effect. `origin`: the
   * member that ordered it (Byzantine protocols; '' otherwise), which an `auth-login` binds to.
   */
  apply(user: AuthUser, req: AuthRequest, origin = ''): AuthErrorKind | null {
    // Needs no administrator either: the signature is the proof, checked against the user's key.
    if (req.op === 'auth-login') return this.login(origin, req);
    if (req.op === 'auth-login-use') return this.useLogin(origin, req);
    // Not an administrator's change: no caller chooses the key, and it only fills a missing one.
    if (req.op === 'auth-token-key') {
      if (this.enabledFlag && this.tokenKeyBytes === null) {
        assert(req.tokenKey.byteLength >= MIN_TOKEN_KEY_BYTES, 'a token key of at least 128 bits (checked when the command was decoded)');
        this.tokenKeyBytes = own(req.tokenKey);
      }
      return null;
    }
    const denied = this.checkAdmin(user);
    if (denied !== null) return denied;
    const error = this.change(req);
    if (error === 'unchanged') return null;
    if (error !== null) return error;
    this.authRevision += 1;
    this.clearMerged();
    return null;
  }

  /**
   * A login: the password's signature over the session it opens (or, from before sessions, over
   * the ordering member), then the session's signature binding the ordering member. Nothing
   * changes unless both hold.
   */
  private login(origin: string, req: Extract<AuthRequest, { op: 'auth-login' }>): AuthErrorKind | null {
    if (!this.enabledFlag) return 'auth-not-enabled';
    const u = this.users.get(req.name);
    const key = u?.password?.loginKey;
    // Bound to the token key too: a login ordered before an `auth disable` is no proof after it.
    const tokenKey = this.tokenKeyBytes;
    if (u === undefined || key === undefined || tokenKey === null || u.credentialRevision !== req.credentialRevision) return 'auth-failed';
    // Absent fields may arrive as null (MessagePack's nil).
    const sessionKey = req.sessionKey ?? null;
    const binding = req.binding ?? null;
    if (sessionKey === null || binding === null) {
      // Decoding lets only both or neither through.
      assert(sessionKey === null && binding === null, 'a login with a session key has a binding');
      if (!verifyLogin(key, legacyLoginStatement(req.name, req.credentialRevision, origin, tokenKey), req.signature)) return 'auth-failed';
    } else {
      if (!verifyLogin(key, loginStatement(req.name, req.credentialRevision, sessionKey, tokenKey, this.clusterGeneration), req.signature)
        || !verifyLogin(sessionKey, loginUseStatement(req.name, sessionKey, origin), binding)) return 'auth-failed';
      assert(sessionKey.byteLength === LOGIN_KEY_BYTES, 'a verified session key is an Ed25519 public key');
      this.sessions.set(req.name, { credentialRevision: req.credentialRevision, epoch: this.currentEpoch()!, sessionKey: own(sessionKey) });
    }
    this.bind(origin, req.name, req.credentialRevision);
    return null;
  }

  /**
   * A binding of the ordering member to `name`'s current session, signed with the session's seed
   * (which only a token of it carries). A session voided since (credentials changed, auth
   * disabled) binds no one: a binding from an old log cannot be ordered again.
   */
  private useLogin(origin: string, req: Extract<AuthRequest, { op: 'auth-login-use' }>): AuthErrorKind | null {
    if (!this.enabledFlag) return 'auth-not-enabled';
    const sessionKey = this.sessionKeyOf(req.name);
    if (sessionKey === null) return 'invalid-auth-token';
    if (this.options.mutant !== 'trust-login-use' && !verifyLogin(sessionKey, loginUseStatement(req.name, sessionKey, origin), req.binding)) return 'invalid-auth-token';
    this.bind(origin, req.name, this.users.get(req.name)!.credentialRevision);
    assert(this.actsAs(origin, req.name), 'a member bound to a current session acts as its user');
    return null;
  }

  private bind(origin: string, user: string, credentialRevision: number): void {
    let users = this.logins.get(origin);
    if (users === undefined) {
      users = new Map();
      this.logins.set(origin, users);
    }
    users.set(user, { credentialRevision, epoch: this.currentEpoch()! });
  }

  private change(req: AuthRequest): AuthErrorKind | 'unchanged' | null {
    switch (req.op) {
      case 'auth-enable': {
        if (this.enabledFlag) return 'unchanged';
        const root = this.users.get(ROOT_USER);
        if (root === undefined) return 'root-user-not-exist';
        if (!root.roles.includes(ROOT_ROLE)) return 'root-role-not-exist';
        assert(req.tokenKey.byteLength >= MIN_TOKEN_KEY_BYTES, 'a token key of at least 128 bits (checked when the command was decoded)');
        this.enabledFlag = true;
        this.tokenKeyBytes = own(req.tokenKey);
        return null;
      }
      case 'auth-token-key':
      case 'auth-login':
      case 'auth-login-use':
        return 'unchanged'; // applied before the admin check, in apply()
      case 'auth-disable':
        if (!this.enabledFlag) return 'unchanged';
        this.enabledFlag = false;
        this.tokenKeyBytes = null; // every token issued so far is void
        this.logins.clear(); // and so is every login
        this.sessions.clear();
        return null;
      case 'user-add': {
        const bad = checkName(req.name, 'user-empty');
        if (bad !== null) return bad;
        if (this.users.has(req.name)) return 'user-already-exist';
        if (this.users.size >= MAX_AUTH_USERS) return 'too-many-users';
        this.users.set(req.name, { password: req.password === null ? null : ownHash(req.password), roles: [], credentialRevision: this.authRevision + 1 });
        return null;
      }
      case 'user-delete': {
        if (this.enabledFlag && req.name === ROOT_USER) return 'invalid-auth-mgmt';
        if (!this.users.delete(req.name)) return 'user-not-found';
        for (const users of this.logins.values()) users.delete(req.name);
        this.sessions.delete(req.name);
        return null;
      }
      case 'user-change-password': {
        const u = this.users.get(req.name);
        if (u === undefined) return 'user-not-found';
        u.password = ownHash(req.password);
        u.credentialRevision = this.authRevision + 1;
        this.sessions.delete(req.name); // opened with the old credentials: void
        return null;
      }
      case 'user-grant-role': {
        const u = this.users.get(req.user);
        if (u === undefined) return 'user-not-found';
        // As etcd: the root role may be granted before it was added as a role.
        if (req.role !== ROOT_ROLE && !this.roles.has(req.role)) return 'role-not-found';
        if (u.roles.includes(req.role)) return 'unchanged';
        if (u.roles.length >= MAX_ROLES_PER_USER) return 'too-many-roles-per-user';
        u.roles = [...u.roles, req.role].sort();
        return null;
      }
      case 'user-revoke-role': {
        if (this.enabledFlag && req.name === ROOT_USER && req.role === ROOT_ROLE) return 'invalid-auth-mgmt';
        const u = this.users.get(req.name);
        if (u === undefined) return 'user-not-found';
        if (!u.roles.includes(req.role)) return 'role-not-granted';
        u.roles = u.roles.filter((r) => r !== req.role);
        return null;
      }
      case 'role-add': {
        const bad = checkName(req.name, 'role-empty');
        if (bad !== null) return bad;
        if (this.roles.has(req.name)) return 'role-already-exist';
        if (this.roles.size >= MAX_AUTH_ROLES) return 'too-many-roles';
        this.roles.set(req.name, { permissions: [] });
        return null;
      }
      case 'role-delete': {
        if (this.enabledFlag && req.role === ROOT_ROLE) return 'invalid-auth-mgmt';
        const deleted = this.roles.get(req.role);
        if (deleted === undefined) return 'role-not-found';
        this.roles.delete(req.role);
        this.heldPermissionBytes -= rolePermissionBytes(deleted);
        assert(this.heldPermissionBytes >= 0, () => `permission bytes never go negative (${this.heldPermissionBytes} after deleting role ${req.role})`);
        for (const u of this.users.values()) u.roles = u.roles.filter((r) => r !== req.role);
        return null;
      }
      case 'role-grant-permission': {
        const role = this.roles.get(req.name);
        if (role === undefined) return 'role-not-found';
        const at = role.permissions.findIndex((p) => comparePermissions(p, req.perm) === 0);
        if (at >= 0) {
          role.permissions[at] = { ...role.permissions[at]!, permType: req.perm.permType }; // same range: the new type replaces the old
        } else {
          if (role.permissions.length >= MAX_PERMISSIONS_PER_ROLE) return 'too-many-permissions';
          const bytes = permissionBytes(req.perm);
          if (this.heldPermissionBytes + bytes > MAX_AUTH_PERMISSION_BYTES) return 'too-many-permission-bytes';
          // Copies of their own (new Uint8Array): a decoded command's bytes are views of the frame or WAL segment it came in.
          const perm = { permType: req.perm.permType, key: new Uint8Array(req.perm.key), rangeEnd: new Uint8Array(req.perm.rangeEnd) };
          role.permissions = [...role.permissions, perm].sort(comparePermissions);
          this.heldPermissionBytes += bytes;
        }
        return null;
      }
      case 'role-revoke-permission': {
        const role = this.roles.get(req.role);
        if (role === undefined) return 'role-not-found';
        const want = { permType: 'READ' as const, key: req.key, rangeEnd: req.rangeEnd };
        const at = role.permissions.findIndex((p) => comparePermissions(p, want) === 0);
        if (at < 0) return 'permission-not-granted';
        this.heldPermissionBytes -= permissionBytes(role.permissions[at]!);
        assert(this.heldPermissionBytes >= 0, () => `permission bytes never go negative (${this.heldPermissionBytes} after a revoke)`);
        role.permissions = role.permissions.filter((_, i) => i !== at);
        return null;
      }
    }
  }

  // ---- snapshot ------------------------------------------------------------------------------

  /**
   * The auth state for a snapshot. `whole` is false for a snapshot a client downloads: with the
   * token key, its holder could sign a token for root. A cluster restored from it gets a new key
   * ('auth-token-key'), so tokens issued before are void there (as etcd's simple tokens die with
   * their member), and so are logins and sessions (opened under the old key). Password hashes stay,
   * as etcd's snapshot keeps its bcrypt hashes: they are salted scrypt (slow to guess against),
   * and a restored cluster needs them to authenticate.
   */
  snapshot(whole = true): unknown {
    return {
      format: SNAPSHOT_FORMAT,
      enabled: this.enabledFlag,
      revision: this.authRevision,
      tokenKey: whole ? this.tokenKeyBytes : null,
      users: [...this.users].map(([name, u]) => [name, u.password, u.roles, u.credentialRevision]),
      roles: [...this.roles].map(([name, r]) => [name, r.permissions.map((p) => [p.permType, p.key, p.rangeEnd])]),
      ...(whole && this.logins.size > 0 ? { logins: [...this.logins].map(([origin, users]) => [origin, [...users].map(([user, l]) => [user, l.credentialRevision, l.epoch])]) } : {}),
      ...(this.clusterGeneration > 0 ? { generation: this.clusterGeneration } : {}),
      ...(whole && this.sessions.size > 0 ? { sessions: [...this.sessions].map(([user, s]) => [user, s.credentialRevision, s.epoch, s.sessionKey]) } : {}),
    };
  }

  /** Restore from `snapshot()`'s value; undefined (a snapshot from before auth existed) is the empty state. */
  restore(data: unknown): void {
    this.clearMerged();
    if (data === undefined || data === null) {
      this.enabledFlag = false;
      this.authRevision = 1;
      this.tokenKeyBytes = null;
      this.users = new Map();
      this.roles = new Map();
      this.heldPermissionBytes = 0;
      this.logins = new Map();
      this.sessions = new Map();
      this.clusterGeneration = 0;
      return;
    }
    const snap = data as {
      format: number; enabled: boolean; revision: number; tokenKey: Uint8Array | null;
      users: [string, PasswordHash | null, string[], number][];
      roles: [string, [PermissionType, Uint8Array, Uint8Array][]][];
      /** [member, [user, credential revision, token key digest][]]; absent when there were none. */
      logins?: [string, [string, number, string][]][];
      /** [user, credential revision, token key digest, session key][]; absent when there were none (or in snapshots from before sessions). */
      sessions?: [string, number, string, Uint8Array][];
      /** See clusterGeneration; absent for 0. */
      generation?: number;
    };
    assert(snap.format === SNAPSHOT_FORMAT, () => `unknown auth snapshot format ${snap.format}`);
    this.enabledFlag = snap.enabled;
    this.authRevision = snap.revision;
    // Every binary field copied out (see own()): views would keep the whole snapshot's bytes alive.
    this.tokenKeyBytes = snap.tokenKey === null ? null : own(snap.tokenKey);
    this.users = new Map(snap.users.map(([name, password, roles, credentialRevision]) => [name, { password: password === null ? null : ownHash(password), roles, credentialRevision }]));
    this.roles = new Map(snap.roles.map(([name, perms]) => [name, { permissions: perms.map(([permType, key, rangeEnd]) => ({ permType, key: own(key), rangeEnd: own(rangeEnd) })) }]));
    // Not checked against MAX_AUTH_PERMISSION_BYTES: a state is restored as it was applied; only grants are refused.
    this.heldPermissionBytes = 0;
    for (const role of this.roles.values()) this.heldPermissionBytes += rolePermissionBytes(role);
    this.logins = new Map((snap.logins ?? []).map(([origin, users]) => [origin, new Map(users.map(([user, credentialRevision, epoch]) => [user, { credentialRevision, epoch }]))]));
    this.clusterGeneration = snap.generation ?? 0;
    assert(Number.isSafeInteger(this.clusterGeneration) && this.clusterGeneration >= 0, () => `an auth snapshot's generation is a natural number, not ${String(snap.generation)}`);
    this.sessions = new Map((snap.sessions ?? []).map(([user, credentialRevision, epoch, sessionKey]) => [user, { credentialRevision, epoch, sessionKey: own(sessionKey) }]));
  }
}

const EMPTY = new Uint8Array(0);
const ZERO_BYTE = new Uint8Array([0]);

function checkName(name: string, emptyError: 'user-empty' | 'role-empty'): AuthErrorKind | null {
  if (name === '') return emptyError;
  if (utf8Bytes(name) > MAX_AUTH_NAME_BYTES) return 'name-too-long';
  return null;
}
