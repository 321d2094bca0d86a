/**
 * PBFT member key material, provisioned per member. Each member holds only its own private keys
 * (an Ed25519 key to sign, an X25519 key to agree pairwise MAC keys) and everyone's public keys,
 * so a member can sign and MAC only as itself: the point of tolerating Byzantine members. (Keys
 * derived from one shared secret, `deriveKeys`, let anyone holding the secret be anyone.)
 *
 * Files: `<name>.key` (private, mode 0600, for that member only) and `public-keys.json` (the same
 * file on every member). Keys are base64 DER: PKCS#8 for private keys, SPKI for public keys.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { principalMember } from '../core/authenticator.js';
import { QuorateError } from '../core/errors.js';
import type { CryptoKeys } from './crypto-authenticator.js';
import { checkPrivateKeyFile } from './private-key-file.js';

/** The version written into both files; a loader refuses any other. */
export const BFT_KEYS_FORMAT = 1;
export const PUBLIC_KEYS_FILE_NAME = 'public-keys.json';
export const PRIVATE_KEY_FILE_SUFFIX = '.key';
/** Key files are a few hundred bytes per member: anything larger is not one, so it is not read. */
export const MAX_KEY_FILE_BYTES = 1 << 20;
/** Private key files: readable by their owner only. */
export const PRIVATE_KEY_FILE_MODE = 0o600;
/** The directory `quorate keys generate` creates holds private keys: owner only. */
export const KEYS_DIR_MODE = 0o700;
/** Bytes of each pairwise HMAC-SHA256 key (the hash's block-independent output size). */
export const MAC_KEY_BYTES = 32;
/** Member names become file names: short, and without path or principal separators. */
export const MAX_MEMBER_NAME_LENGTH = 64;
/** Members one public keys file may list. */
export const MAX_KEY_MEMBERS = 1_000;

const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const PRIVATE_KIND = 'quorate-bft-private-key';
const PUBLIC_KIND = 'quorate-bft-public-keys';
/** HKDF info prefix: binds a MAC key to its use, then to its two principals. */
const MAC_INFO = 'quorate-bft-mac';

/** What went wrong with key material, for programs (the message is for people). */
export type BftKeyProblem =
  | 'missing-file'
  | 'unreadable'
  | 'too-large'
  | 'malformed'
  | 'wrong-key-type'
  | 'key-mismatch'
  | 'missing-member'
  | 'not-this-member'
  | 'file-exists'
  | 'bad-name'
  | 'missing-keys'
  | 'insecure-permissions';

export class BftKeyError extends QuorateError {
  override readonly name = 'BftKeyError';
  constructor(readonly problem: BftKeyProblem, message: string) {
    super('BAD_KEYS', message);
  }
}

export interface MemberPublicKeys {
  /** Ed25519: verifies the member's (and its clients') signatures. */
  readonly signing: KeyObject;
  /** X25519: agrees the pairwise MAC keys with the member. */
  readonly agreement: KeyObject;
}

export interface MemberPrivateKeys {
  readonly name: string;
  readonly signing: KeyObject;
  readonly agreement: KeyObject;
}

/** What one member holds: its own private keys and every member's public keys. */
export interface BftKeyMaterial {
  readonly self: MemberPrivateKeys;
  readonly publicKeys: ReadonlyMap<string, MemberPublicKeys>;
}

export { principalMember };

export function checkMemberName(name: string): void {
  if (name.length === 0 || name.length > MAX_MEMBER_NAME_LENGTH || !MEMBER_NAME.test(name)) {
    throw new BftKeyError('bad-name', `member name '${name}' cannot have keys: use 1 to ${MAX_MEMBER_NAME_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}

export function generateMemberKeys(name: string): MemberPrivateKeys {
  checkMemberName(name);
  return {
    name,
    signing: generateKeyPairSync('ed25519').privateKey,
    agreement: generateKeyPairSync('x25519').privateKey,
  };
}

const der = (k: KeyObject): string => k.export({ format: 'der', type: k.type === 'private' ? 'pkcs8' : 'spki' }).toString('base64');

export function publicHalf(keys: MemberPrivateKeys): MemberPublicKeys {
  return { signing: createPublicKey(keys.signing), agreement: createPublicKey(keys.agreement) };
}

export function privateKeyFileText(keys: MemberPrivateKeys): string {
  return `${JSON.stringify({ format: BFT_KEYS_FORMAT, kind: PRIVATE_KIND, name: keys.name, ed25519: der(keys.signing), x25519: der(keys.agreement) }, null, 2)}\n`;
}

export function publicKeysFileText(members: ReadonlyMap<string, MemberPublicKeys>): string {
  const entries = Object.fromEntries([...members].map(([name, k]) => [name, { ed25519: der(k.signing), x25519: der(k.agreement) }]));
  return `${JSON.stringify({ format: BFT_KEYS_FORMAT, kind: PUBLIC_KIND, members: entries }, null, 2)}\n`;
}

export interface GeneratedKeyFiles {
  readonly publicKeysFile: string;
  /** Each member's private key file, in the order the names were given. */
  readonly privateKeyFiles: readonly { readonly name: string; readonly file: string }[];
}

/**
 * Fresh keys for `names` in `dir`: `<name>.key` each and `public-keys.json`. Refuses to replace
 * any existing file (new keys would not match the ones members already hold).
 */
export async function generateKeyFiles(dir: string, names: readonly string[]): Promise<GeneratedKeyFiles> {
  if (names.length === 0) throw new BftKeyError('bad-name', 'no member names to generate keys for');
  if (names.length > MAX_KEY_MEMBERS) throw new BftKeyError('bad-name', `at most ${MAX_KEY_MEMBERS} members (MAX_KEY_MEMBERS), got ${names.length}`);
  for (const n of names) checkMemberName(n);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new BftKeyError('bad-name', `member '${duplicate}' is named twice`);
  await mkdir(dir, { recursive: true, mode: KEYS_DIR_MODE });
  const privateKeyFiles = names.map((name) => ({ name, file: join(dir, `${name}${PRIVATE_KEY_FILE_SUFFIX}`) }));
  const publicKeysFile = join(dir, PUBLIC_KEYS_FILE_NAME);
  // Check every file first, so a refusal leaves the directory as it was.
  for (const f of [publicKeysFile, ...privateKeyFiles.map((p) => p.file)]) {
    if (await exists(f)) throw new BftKeyError('file-exists', `${f} already exists; keys are never overwritten (remove it, or write into another directory)`);
  }
  const keys = names.map(generateMemberKeys);
  for (const [i, k] of keys.entries()) await writeNew(privateKeyFiles[i]!.file, privateKeyFileText(k), PRIVATE_KEY_FILE_MODE);
  await writeNew(publicKeysFile, publicKeysFileText(new Map(keys.map((k) => [k.name, publicHalf(k)]))), null);
  return { publicKeysFile, privateKeyFiles };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Create `file` (never replacing one) with `mode`, also when the umask would allow more. */
async function writeNew(file: string, text: string, mode: number | null): Promise<void> {
  let fh;
  try {
    fh = await open(file, 'wx', mode ?? undefined);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new BftKeyError('file-exists', `${file} already exists; keys are never overwritten`);
    throw err;
  }
  try {
    if (mode !== null) await fh.chmod(mode);
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readKeyFile(file: string, what: string, flag: string): Promise<unknown> {
  let text: string;
  try {
    const s = await stat(file);
    if (s.size > MAX_KEY_FILE_BYTES) throw new BftKeyError('too-large', `${what} ${file} is ${s.size} bytes, more than a key file can be (MAX_KEY_FILE_BYTES=${MAX_KEY_FILE_BYTES})`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof BftKeyError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BftKeyError('missing-file', `${what} ${file} does not exist (check ${flag}; \`quorate keys generate\` writes it)`);
    throw new BftKeyError('unreadable', `cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BftKeyError('malformed', `${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkHeader(doc: unknown, kind: string, source: string): Record<string, unknown> {
  if (!isRecord(doc)) throw new BftKeyError('malformed', `${source}: expected a JSON object`);
  if (doc['kind'] !== kind) throw new BftKeyError('malformed', `${source}: not a ${kind} file (its "kind" is ${JSON.stringify(doc['kind'])})`);
  if (doc['format'] !== BFT_KEYS_FORMAT) throw new BftKeyError('malformed', `${source}: format ${JSON.stringify(doc['format'])} is not the supported format ${BFT_KEYS_FORMAT}`);
  return doc;
}

function keyBytes(v: unknown, where: string): Buffer {
  if (typeof v !== 'string' || !BASE64.test(v)) throw new BftKeyError('malformed', `${where}: expected base64 DER`);
  return Buffer.from(v, 'base64');
}

function checkType(key: KeyObject, type: 'ed25519' | 'x25519', where: string): KeyObject {
  if (key.asymmetricKeyType !== type) throw new BftKeyError('wrong-key-type', `${where}: expected an ${type} key, got ${key.asymmetricKeyType ?? 'a key of no known type'}`);
  return key;
}

function privateKey(v: unknown, type: 'ed25519' | 'x25519', where: string): KeyObject {
  const bytes = keyBytes(v, where);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
  } catch {
    throw new BftKeyError('malformed', `${where}: not a PKCS#8 DER private key`);
  }
  return checkType(key, type, where);
}

function publicKey(v: unknown, type: 'ed25519' | 'x25519', where: string): KeyObject {
  const bytes = keyBytes(v, where);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch {
    throw new BftKeyError('malformed', `${where}: not an SPKI DER public key`);
  }
  return checkType(key, type, where);
}

/** A private key file's contents, validated; `source` names it in errors. */
export function parsePrivateKeyFile(doc: unknown, source: string): MemberPrivateKeys {
  const d = checkHeader(doc, PRIVATE_KIND, source);
  const name = d['name'];
  if (typeof name !== 'string') throw new BftKeyError('malformed', `${source}: "name" must be the member's name`);
  checkMemberName(name);
  return { name, signing: privateKey(d['ed25519'], 'ed25519', `${source} "ed25519"`), agreement: privateKey(d['x25519'], 'x25519', `${source} "x25519"`) };
}

/** A public keys file's contents, validated; `source` names it in errors. */
export function parsePublicKeysFile(doc: unknown, source: string): Map<string, MemberPublicKeys> {
  const d = checkHeader(doc, PUBLIC_KIND, source);
  const members = d['members'];
  if (!isRecord(members)) throw new BftKeyError('malformed', `${source}: "members" must map member names to their keys`);
  const names = Object.keys(members);
  if (names.length > MAX_KEY_MEMBERS) throw new BftKeyError('malformed', `${source}: more than ${MAX_KEY_MEMBERS} members (MAX_KEY_MEMBERS)`);
  const out = new Map<string, MemberPublicKeys>();
  for (const name of names) {
    checkMemberName(name);
    const e = members[name];
    if (!isRecord(e)) throw new BftKeyError('malformed', `${source}: member '${name}' must have "ed25519" and "x25519" keys`);
    out.set(name, { signing: publicKey(e['ed25519'], 'ed25519', `${source} member '${name}' "ed25519"`), agreement: publicKey(e['x25519'], 'x25519', `${source} member '${name}' "x25519"`) });
  }
  return out;
}

const sameKey = (a: KeyObject, b: KeyObject): boolean => a.equals(b);

/** Checks that `publicKeys` has an entry for every member and that `self`'s entry is the public half of its private keys. */
export function checkKeyMaterial(self: MemberPrivateKeys, publicKeys: ReadonlyMap<string, MemberPublicKeys>, members: readonly string[], source: string): BftKeyMaterial {
  const missing = members.filter((m) => !publicKeys.has(m));
  if (missing.length > 0) throw new BftKeyError('missing-member', `${source} has no keys for cluster member(s) ${missing.join(', ')}; every member needs the same public keys file`);
  if (!members.includes(self.name)) throw new BftKeyError('not-this-member', `the private key file is member '${self.name}''s, which is not in the cluster (${members.join(', ')})`);
  const mine = publicKeys.get(self.name);
  if (mine === undefined) throw new BftKeyError('missing-member', `${source} has no keys for '${self.name}'`);
  const half = publicHalf(self);
  if (!sameKey(half.signing, mine.signing) || !sameKey(half.agreement, mine.agreement)) {
    throw new BftKeyError('key-mismatch', `the private key file of '${self.name}' does not match its entry in ${source} (keys from different \`quorate keys generate\` runs?)`);
  }
  return { self, publicKeys };
}

export interface KeyFiles {
  readonly privateKeyFile: string;
  readonly publicKeysFile: string;
}

export interface LoadKeyOptions {
  /** Accept a private key file group or others may read (see private-key-file.ts); `warn` is told. Default false. */
  readonly allowInsecurePermissions?: boolean;
  readonly warn?: (message: string) => void;
}

/**
 * Loads and validates member `self`'s key material for a cluster of `members`. A private key file
 * group or others have access to is refused (BftKeyError 'insecure-permissions') unless allowed.
 */
export async function loadBftKeyMaterial(files: KeyFiles, self: string, members: readonly string[], options: LoadKeyOptions = {}): Promise<BftKeyMaterial> {
  await checkPrivateKeyFile(files.privateKeyFile, '--bft-private-key', options.allowInsecurePermissions ?? false,
    (message) => new BftKeyError('insecure-permissions', message), options.warn ?? (() => {}));
  const priv = parsePrivateKeyFile(await readKeyFile(files.privateKeyFile, 'private key file', '--bft-private-key'), files.privateKeyFile);
  if (priv.name !== self) throw new BftKeyError('not-this-member', `${files.privateKeyFile} holds the keys of '${priv.name}', not of this member '${self}' (check --bft-private-key and --name)`);
  const pub = parsePublicKeysFile(await readKeyFile(files.publicKeysFile, 'public keys file', '--bft-public-keys'), files.publicKeysFile);
  return checkKeyMaterial(priv, pub, members, files.publicKeysFile);
}

/**
 * The CryptoKeys of `principal` (this member or one of its clients), for a cluster of
 * `principals`. Signature keys: each principal's member's Ed25519 key. MAC keys: HKDF-SHA256 over
 * the X25519 secret of the two principals' members, salted with the cluster id and bound to both
 * principal names (sorted), so both ends derive the same bytes, each from its own private key.
 */
export function bftCryptoKeys(material: BftKeyMaterial, principal: string, principals: readonly string[], clusterId: string): CryptoKeys {
  const selfMember = principalMember(principal);
  if (selfMember !== material.self.name) {
    throw new BftKeyError('not-this-member', `member '${material.self.name}' holds no private keys for principal '${principal}' (only for itself and its clients)`);
  }
  const publicOf = (p: string): MemberPublicKeys => {
    const k = material.publicKeys.get(principalMember(p));
    if (k === undefined) throw new BftKeyError('missing-member', `no public keys for member '${principalMember(p)}' (principal '${p}')`);
    return k;
  };
  const shared = new Map<string, Buffer>();
  const sharedWith = (member: string, key: KeyObject): Buffer => {
    let s = shared.get(member);
    if (s === undefined) {
      try {
        s = diffieHellman({ privateKey: material.self.agreement, publicKey: key });
      } catch (err) {
        throw new BftKeyError('malformed', `no X25519 agreement with member '${member}': ${(err as Error).message}`);
      }
      shared.set(member, s);
    }
    return s;
  };
  const macKeys = new Map<string, Uint8Array>();
  const publicKeys = new Map<string, KeyObject>();
  for (const p of principals) {
    const k = publicOf(p);
    publicKeys.set(p, k.signing);
    if (p === principal) continue;
    const [a, b] = principal < p ? [principal, p] : [p, principal];
    const info = `${MAC_INFO}|${a}|${b}`;
    macKeys.set(p, new Uint8Array(hkdfSync('sha256', sharedWith(principalMember(p), k.agreement), clusterId, info, MAC_KEY_BYTES)));
  }
  return { self: principal, macKeys, privateKey: material.self.signing, publicKeys };
}
