/**
 * The production FileSystem: node:fs. Metadata and reads are synchronous calls (microseconds in
 * the kernel); writes and the fsyncs, which wait for the disk, go through node's callback API so
 * they run on libuv's thread pool, off the event loop.
 */
import {
  closeSync, existsSync, fdatasync, fsync, mkdirSync, open, openSync, close, readdirSync, readFileSync, readSync,
  renameSync, statSync, truncateSync, unlinkSync, write,
} from 'node:fs';
import { FsError, type Done, type Fd, type FileSystem, type FsErrorCode } from './fs.js';

const CODES: ReadonlySet<string> = new Set<FsErrorCode>(['ENOENT', 'EEXIST', 'EIO', 'ENOSPC', 'EBADF', 'ENOTDIR', 'EISDIR']);

export class NodeFileSystem implements FileSystem {
  mkdir(path: string): void {
    wrap(path, 'mkdir', () => mkdirSync(path, { recursive: true }));
  }

  readdir(path: string): string[] {
    return wrap(path, 'readdir', () => readdirSync(path));
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  readFile(path: string): Uint8Array {
    return wrap(path, 'read', () => readFileSync(path));
  }

  size(path: string): number {
    return wrap(path, 'stat', () => statSync(path).size);
  }

  readRange(path: string, offset: number, length: number): Uint8Array {
    return wrap(path, 'read', () => {
      const fd = openSync(path, 'r');
      try {
        const out = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const n = readSync(fd, out, got, length - got, offset + got);
          if (n === 0) break; // end of file
          got += n;
        }
        return out.subarray(0, got);
      } finally {
        closeSync(fd);
      }
    });
  }

  openAppend(path: string): Fd {
    return wrap(path, 'open', () => openSync(path, 'a'));
  }

  openTruncate(path: string): Fd {
    return wrap(path, 'open', () => openSync(path, 'w'));
  }

  close(fd: Fd): void {
    wrap(`fd ${fd}`, 'close', () => closeSync(fd));
  }

  rename(from: string, to: string): void {
    wrap(from, 'rename', () => renameSync(from, to));
  }

  unlink(path: string): void {
    wrap(path, 'unlink', () => unlinkSync(path));
  }

  truncate(path: string, length: number): void {
    wrap(path, 'truncate', () => truncateSync(path, length));
  }

  write(fd: Fd, data: Uint8Array, done: Done): void {
    // fs.write may write less than asked: continue until all of it is in.
    const more = (from: number): void => {
      if (from === data.byteLength) return done(null);
      write(fd, data, from, data.byteLength - from, null, (err, n) => {
        if (err !== null) return done(toFsError(err, `fd ${fd}`, 'write'));
        more(from + n);
      });
    };
    more(0);
  }

  datasync(fd: Fd, done: Done): void {
    fdatasync(fd, (err) => done(err === null ? null : toFsError(err, `fd ${fd}`, 'fdatasync')));
  }

  fsyncDir(path: string, done: Done): void {
    open(path, 'r', (err, fd) => {
      if (err !== null) return done(toFsError(err, path, 'open directory'));
      fsync(fd, (syncErr) => {
        close(fd, (closeErr) => {
          const first = syncErr ?? closeErr;
          done(first === null ? null : toFsError(first, path, 'fsync directory'));
        });
      });
    });
  }
}

/** The one instance the node runtime uses. */
export const nodeFileSystem: FileSystem = new NodeFileSystem();

function wrap<T>(path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toFsError(err, path, what);
  }
}

/** node:fs errors with a code the port names become FsError; anything else passes through. */
function toFsError(err: unknown, path: string, what: string): Error {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && CODES.has(code)) return new FsError(code as FsErrorCode, path, what);
  return err instanceof Error ? err : new Error(String(err));
}
