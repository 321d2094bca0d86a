/**
 * Certificates for tests, made fresh with openssl: a cluster CA and one peer certificate per
 * member, each naming its member as its subject's common name (CN) and 127.0.0.1 / localhost as
 * its subject alternative names (the host a dialer checks), as `quorate serve` expects peer
 * certificates to (PeerTls.memberBinding 'common-name'). P-256 keys: quicker to make than RSA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

export interface MemberCertificates {
  readonly dir: string;
  /** The CA's certificate file. */
  readonly ca: string;
  /** The files of the certificate whose subject is `subject` (a member's name, or one of `others`). */
  files(subject: string): CertificateFiles;
  /** The same as PeerTls wants it (cert, key, ca as bytes). */
  tls(subject: string): { cert: Buffer; key: Buffer; ca: Buffer };
  remove(): void;
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A CA and a certificate for each of `subjects`: a plain name gets CN=name; a subject starting
 * with '/' is used as the whole subject (e.g. '/O=quorate' for a certificate with no CN). Null
 * when openssl is missing.
 */
export function memberCertificates(subjects: readonly string[]): MemberCertificates | null {
  if (!hasOpenssl()) return null;
  const dir = mkdtempSync(join(tmpdir(), 'quorate-certs-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const fileOf = (subject: string) => subject.replace(/[^A-Za-z0-9_-]/g, '_');
  // Two subjects on one file name would silently share the later one's certificate.
  const clash = subjects.find((s, i) => subjects.findIndex((t) => fileOf(t) === fileOf(s)) !== i);
  if (clash !== undefined) throw new Error(`memberCertificates: subject ${clash} shares its file name with an earlier one; spell it apart`);
  try {
    writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
    for (const subject of subjects) {
      const f = fileOf(subject);
      run('req', ...ec, '-keyout', `${f}.key`, '-out', `${f}.csr`, '-subj', subject.startsWith('/') ? subject : `/CN=${subject}`);
      run('x509', '-req', '-in', `${f}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${f}.crt`, '-days', '2', '-extfile', 'san.cnf');
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const files = (subject: string): CertificateFiles => {
    if (!subjects.includes(subject)) throw new Error(`no certificate for ${subject}`);
    return { cert: join(dir, `${fileOf(subject)}.crt`), key: join(dir, `${fileOf(subject)}.key`) };
  };
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    files,
    tls: (subject) => ({ cert: readFileSync(files(subject).cert), key: readFileSync(files(subject).key), ca: readFileSync(join(dir, 'ca.crt')) }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
