/**
 * Provisioned PBFT keys: files written and loaded back, pairwise MAC keys agreed from each side's
 * own private file, no member able to sign or MAC as another, and a typed error for every bad file.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CryptoAuthenticator, deriveKeys } from '../../src/node/crypto-authenticator.js';
import {
  BftKeyError, bftCryptoKeys, generateKeyFiles, loadBftKeyMaterial, MAX_KEY_FILE_BYTES, PRIVATE_KEY_FILE_MODE,
  type BftKeyMaterial, type BftKeyProblem,
} from '../../src/node/bft-keys.js';
import { keyFilePermissionsProblem } from '../../src/node/private-key-file.js';

const NAMES = ['m1', 'm2', 'm3', 'm4'];
const CLIENTS_PER_MEMBER = 2;
const PRINCIPALS = [...NAMES, ...NAMES.flatMap((n) => Array.from({ length: CLIENTS_PER_MEMBER }, (_, k) => `${n}#${k}`))];
const CLUSTER_ID = '1234567890';

let dir: string;
let files: Awaited<ReturnType<typeof generateKeyFiles>>;
const keyFile = (name: string): string => files.privateKeyFiles.find((p) => p.name === name)!.file;
const load = (name: string): Promise<BftKeyMaterial> => loadBftKeyMaterial({ privateKeyFile: keyFile(name), publicKeysFile: files.publicKeysFile }, name, NAMES);

/** Asserts `p` rejects with a BftKeyError of `problem` whose message mentions `mentions`. */
async function rejectsWith(p: Promise<unknown>, problem: BftKeyProblem, mentions: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BftKeyError, `a BftKeyError, got ${String(err)}`);
    assert.equal(err.code, 'BAD_KEYS');
    assert.equal(err.problem, problem, err.message);
    assert.match(err.message, mentions);
    return true;
  });
}

describe('provisioned PBFT keys', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quorate-keys-'));
    files = await generateKeyFiles(join(dir, 'keys'), NAMES);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one private file per member (mode 0600) and one public keys file, and loads them back', async () => {
    assert.deepEqual(files.privateKeyFiles.map((p) => p.name), NAMES);
    for (const p of files.privateKeyFiles) assert.equal(statSync(p.file).mode & 0o777, PRIVATE_KEY_FILE_MODE);
    const pub = JSON.parse(readFileSync(files.publicKeysFile, 'utf8')) as { format: number; members: Record<string, unknown> };
    assert.equal(pub.format, 1);
    assert.deepEqual(Object.keys(pub.members), NAMES);
    for (const n of NAMES) {
      const m = await load(n);
      assert.equal(m.self.name, n);
      assert.equal(m.self.signing.asymmetricKeyType, 'ed25519');
      assert.equal(m.self.agreement.asymmetricKeyType, 'x25519');
      assert.deepEqual([...m.publicKeys.keys()], NAMES);
    }
  });

  it('refuses to overwrite existing key files', async () => {
    await rejectsWith(generateKeyFiles(join(dir, 'keys'), NAMES), 'file-exists', /already exists/);
    await rejectsWith(generateKeyFiles(join(dir, 'other'), ['m1', 'm1']), 'bad-name', /named twice/);
    await rejectsWith(generateKeyFiles(join(dir, 'other'), ['m#1']), 'bad-name', /cannot have keys/);
  });

  it('two members compute the same pairwise MAC key, each from its own private file and the public file', async () => {
    const [m1, m2] = [await load('m1'), await load('m2')];
    const k12 = bftCryptoKeys(m1, 'm1', PRINCIPALS, CLUSTER_ID).macKeys.get('m2')!;
    const k21 = bftCryptoKeys(m2, 'm2', PRINCIPALS, CLUSTER_ID).macKeys.get('m1')!;
    assert.equal(k12.byteLength, 32);
    assert.deepEqual(k12, k21);
    // A client principal's key with a replica, and a member's key with its own client.
    assert.deepEqual(bftCryptoKeys(m1, 'm1#1', PRINCIPALS, CLUSTER_ID).macKeys.get('m2'), bftCryptoKeys(m2, 'm2', PRINCIPALS, CLUSTER_ID).macKeys.get('m1#1'));
    assert.deepEqual(bftCryptoKeys(m1, 'm1#0', PRINCIPALS, CLUSTER_ID).macKeys.get('m1'), bftCryptoKeys(m1, 'm1', PRINCIPALS, CLUSTER_ID).macKeys.get('m1#0'));
    // Distinct per pair of principals, and per cluster.
    assert.notDeepEqual(k12, bftCryptoKeys(m1, 'm1', PRINCIPALS, CLUSTER_ID).macKeys.get('m3'));
    assert.notDeepEqual(k12, bftCryptoKeys(m1, 'm1#0', PRINCIPALS, CLUSTER_ID).macKeys.get('m2'));
    assert.notDeepEqual(k12, bftCryptoKeys(m1, 'm1', PRINCIPALS, 'another-cluster').macKeys.get('m2'));
    // End to end through the authenticator.
    const a1 = new CryptoAuthenticator(bftCryptoKeys(m1, 'm1', PRINCIPALS, CLUSTER_ID));
    const a2 = new CryptoAuthenticator(bftCryptoKeys(m2, 'm2', PRINCIPALS, CLUSTER_ID));
    assert.ok(a2.verifyMac('payload', 'm1', a1.mac('payload', 'm2')));
    assert.ok(a2.verifySignature('payload', 'm1', a1.sign('payload')));
  });

  it('a member can neither sign nor MAC as another member (the token-derived keys could)', async () => {
    const [m2, m3] = [await load('m2'), await load('m3')];
    const m3auth = new CryptoAuthenticator(bftCryptoKeys(m3, 'm3', PRINCIPALS, CLUSTER_ID));
    // m2 cannot even ask for m1's keys, nor for a client of m1.
    assert.throws(() => bftCryptoKeys(m2, 'm1', PRINCIPALS, CLUSTER_ID), (e: unknown) => e instanceof BftKeyError && e.problem === 'not-this-member');
    assert.throws(() => bftCryptoKeys(m2, 'm1#0', PRINCIPALS, CLUSTER_ID), (e: unknown) => e instanceof BftKeyError && e.problem === 'not-this-member');
    // Its best forgery: its own secrets relabelled as m1's.
    const forger = new CryptoAuthenticator({ ...bftCryptoKeys(m2, 'm2', PRINCIPALS, CLUSTER_ID), self: 'm1' });
    assert.equal(m3auth.verifySignature('payload', 'm1', forger.sign('payload')), false, 'no signature in m1\'s name');
    assert.equal(m3auth.verifyMac('payload', 'm1', forger.mac('payload', 'm3')), false, 'no MAC in m1\'s name');
    assert.equal(m3auth.verifySignature('payload', 'm1#0', forger.sign('payload')), false, 'no signature in m1\'s client\'s name');
    // The same forgery succeeds with keys derived from one shared secret: the reason for this module.
    const shared = (p: string) => new CryptoAuthenticator(deriveKeys('token', p, PRINCIPALS));
    assert.ok(shared('m3').verifySignature('payload', 'm1', new CryptoAuthenticator(deriveKeys('token', 'm1', PRINCIPALS)).sign('payload')));
  });

  describe('bad files give a typed error', () => {
    const write = (name: string, text: string): string => {
      const f = join(dir, name);
      writeFileSync(f, text, { mode: PRIVATE_KEY_FILE_MODE }); // a private key file any other mode would be refused first
      return f;
    };
    const privateText = (): Record<string, unknown> => JSON.parse(readFileSync(keyFile('m1'), 'utf8')) as Record<string, unknown>;
    const publicText = (): { members: Record<string, Record<string, string>> } & Record<string, unknown> => JSON.parse(readFileSync(files.publicKeysFile, 'utf8')) as never;
    const loadM1 = (privateKeyFile: string, publicKeysFile = files.publicKeysFile, members = NAMES) => loadBftKeyMaterial({ privateKeyFile, publicKeysFile }, 'm1', members);

    it('missing files', async () => {
      await rejectsWith(loadM1(join(dir, 'nope.key')), 'missing-file', /does not exist.*--bft-private-key/);
      await rejectsWith(loadM1(keyFile('m1'), join(dir, 'nope.json')), 'missing-file', /does not exist.*--bft-public-keys/);
    });

    it('malformed JSON, wrong kind or format, bad base64, not a key, and a file too large', async () => {
      await rejectsWith(loadM1(write('bad.json', '{"format": 1,')), 'malformed', /not valid JSON/);
      await rejectsWith(loadM1(write('array.json', '[]')), 'malformed', /JSON object/);
      await rejectsWith(loadM1(write('public-as-private.key', readFileSync(files.publicKeysFile, 'utf8'))), 'malformed', /not a quorate-bft-private-key file/);
      await rejectsWith(loadM1(write('v2.key', JSON.stringify({ ...privateText(), format: 2 }))), 'malformed', /format 2/);
      await rejectsWith(loadM1(write('b64.key', JSON.stringify({ ...privateText(), ed25519: 'not base64!' }))), 'malformed', /base64/);
      await rejectsWith(loadM1(write('der.key', JSON.stringify({ ...privateText(), ed25519: 'AAAA' }))), 'malformed', /PKCS#8/);
      const pub = publicText();
      pub.members['m2']!['x25519'] = 'AAAA';
      await rejectsWith(loadM1(keyFile('m1'), write('pub-der.json', JSON.stringify(pub))), 'malformed', /member 'm2' "x25519".*SPKI/);
      await rejectsWith(loadM1(write('huge.key', ' '.repeat(MAX_KEY_FILE_BYTES + 1))), 'too-large', /MAX_KEY_FILE_BYTES/);
    });

    it('a key of the wrong type', async () => {
      const p = privateText();
      await rejectsWith(loadM1(write('swapped.key', JSON.stringify({ ...p, ed25519: p['x25519'], x25519: p['ed25519'] }))), 'wrong-key-type', /expected an ed25519 key, got x25519/);
      const pub = publicText();
      pub.members['m3'] = { ed25519: pub.members['m3']!['x25519']!, x25519: pub.members['m3']!['x25519']! };
      await rejectsWith(loadM1(keyFile('m1'), write('pub-type.json', JSON.stringify(pub))), 'wrong-key-type', /m3.*expected an ed25519 key/);
    });

    it('a private key whose public half is not the public file\'s entry for its member', async () => {
      const other = await generateKeyFiles(join(dir, 'other-run'), NAMES);
      await rejectsWith(loadM1(keyFile('m1'), other.publicKeysFile), 'key-mismatch', /does not match/);
      // Keys of another member than this one.
      await rejectsWith(loadM1(keyFile('m2')), 'not-this-member', /keys of 'm2', not of this member 'm1'/);
    });

    it('a cluster member missing from the public keys file', async () => {
      const pub = publicText();
      delete pub.members['m4'];
      await rejectsWith(loadM1(keyFile('m1'), write('pub-short.json', JSON.stringify(pub))), 'missing-member', /no keys for cluster member\(s\) m4/);
      await rejectsWith(loadM1(keyFile('m1'), files.publicKeysFile, [...NAMES, 'm5']), 'missing-member', /m5/);
    });

    it('a private key file group or others may read or change is refused, naming its mode and the fix, unless allowed', async () => {
      const f = write('open.key', readFileSync(keyFile('m1'), 'utf8'));
      for (const mode of [0o640, 0o604, 0o620, 0o644, 0o666]) {
        chmodSync(f, mode);
        await rejectsWith(loadM1(f), 'insecure-permissions', new RegExp(`open\\.key \\(--bft-private-key\\) has permissions 0${mode.toString(8)}: .*chmod 600 .*--allow-insecure-key-permissions`));
      }
      const warnings: string[] = [];
      const material = await loadBftKeyMaterial({ privateKeyFile: f, publicKeysFile: files.publicKeysFile }, 'm1', NAMES, { allowInsecurePermissions: true, warn: (m) => warnings.push(m) });
      assert.equal(material.self.name, 'm1');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /has permissions 0666.*accepted \(--allow-insecure-key-permissions\)/);
      for (const mode of [0o600, 0o400, 0o700]) {
        chmodSync(f, mode);
        assert.equal((await loadM1(f)).self.name, 'm1', `mode 0${mode.toString(8)} is the owner's only`);
      }
      // The public keys file is no secret: any mode.
      chmodSync(files.publicKeysFile, 0o644);
      assert.equal((await loadM1(keyFile('m1'))).self.name, 'm1');
    });

    it('on Windows a mode says nothing about who may read a file: never refused there', () => {
      assert.equal(keyFilePermissionsProblem('k.key', 0o100644, '--key-file', 'win32'), null);
      assert.match(keyFilePermissionsProblem('k.key', 0o100644, '--key-file', 'linux') ?? '', /k\.key \(--key-file\) has permissions 0644/);
      assert.equal(keyFilePermissionsProblem('k.key', 0o100600, '--key-file', 'linux'), null);
    });
  });
});
