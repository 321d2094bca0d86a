/**
 * Why an input file could not be read, in a few words: a file the user named that is missing, a
 * directory, unreadable or too large is bad input (one line, exit 3), never a stack trace.
 */

/** The commonest reasons, worded for a person; any other is named by its code. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the file name is too long',
  ERR_FS_FILE_TOO_LARGE: 'the file is too large to read',
  ERR_STRING_TOO_LONG: 'the file is too large to read',
};

/**
 * The reason an error from opening or reading a file gives, or undefined when it is not such an
 * error (a bug, which should still crash loudly). File-system errors carry a string `code`: the
 * errno name (with the failed `syscall`) or one of Node's ERR_FS_ / ERR_STRING_ codes.
 */
export function fileErrorReason(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, syscall } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string') return undefined;
  const known = REASONS[code];
  if (known !== undefined) return known;
  if (syscall !== undefined) return `${code} (${syscall})`;
  return undefined;
}
