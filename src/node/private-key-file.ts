/**
 * Private key files (BFT member keys, TLS keys) must be readable by their owner only. A key file
 * that group or others may read has likely been read already (a shared host, a backup, a
 * container image): starting on it silently would hide that. As ssh refuses an unprotected
 * identity file, a member refuses to start on one, saying which file, its mode and the fix,
 * unless the operator says they accept it (ALLOW_INSECURE_KEY_PERMISSIONS_FLAG).
 */
import { stat } from 'node:fs/promises';

/** Mode bits a private key file must not have: any access at all by group or others. */
export const PRIVATE_KEY_FORBIDDEN_MODE_BITS = 0o077;
/** The serve flag that accepts such a file anyway (a warning is logged instead). */
export const ALLOW_INSECURE_KEY_PERMISSIONS_FLAG = '--allow-insecure-key-permissions';

/**
 * What is wrong with a private key file of `mode` (st_mode), or null if nothing. `flag` names the
 * flag that gave the file. On Windows modes say nothing about who may read a file: never refused.
 */
export function keyFilePermissionsProblem(file: string, mode: number, flag: string, platform: string = process.platform): string | null {
  if (platform === 'win32') return null;
  const permissions = mode & 0o777;
  if ((permissions & PRIVATE_KEY_FORBIDDEN_MODE_BITS) === 0) return null;
  return `private key file ${file} (${flag}) has permissions ${permissions.toString(8).padStart(4, '0')}: group or others may read or change it`;
}

/**
 * Refuse the private key file if group or others have access to it (unless `allow`: then `warn`
 * is told). A file that cannot be stat'ed is left to the reader, which reports it in its terms.
 */
export async function checkPrivateKeyFile(file: string, flag: string, allow: boolean, refuse: (message: string) => Error, warn: (message: string) => void): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch {
    return;
  }
  const problem = keyFilePermissionsProblem(file, mode, flag);
  if (problem === null) return;
  if (allow) return warn(`${problem}; accepted (${ALLOW_INSECURE_KEY_PERMISSIONS_FLAG})`);
  throw refuse(`${problem}, so it may already be known to someone else; refusing to start. Make it readable by its owner only `
    + `(chmod 600 ${file}), or pass ${ALLOW_INSECURE_KEY_PERMISSIONS_FLAG} to accept it.`);
}
