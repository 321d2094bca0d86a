/**
 * Runs every scenario file of a protocol's `testdata/` folder as one node:test test. The files
 * are read from the source tree (test/...), not from dist/, so that `REWRITE=1` rewrites the
 * files a reviewer reads and commits.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Envelope } from '../../../src/core/replica.js';
import type { Adapter } from './adapter.js';
import { genericCommands } from './commands.js';
import { runScenarioFile, type CommandRunner } from './datadriven.js';
import { Environment } from './environment.js';

/** A fresh environment over `adapter` (one per scenario file). */
export function environment<M extends Envelope, H>(adapter: Adapter<M, H>): Environment<M, H> {
  return new Environment(adapter, genericCommands<M, H>());
}

/** The source folder of a compiled test module: dist/test/x/y.test.js → test/x/. */
export function sourceFolder(moduleUrl: string): string {
  const compiled = dirname(fileURLToPath(moduleUrl));
  const marker = `${sep}dist${sep}test${sep}`;
  const at = `${compiled}${sep}`.lastIndexOf(marker);
  if (at < 0) return compiled; // run from the sources directly
  return `${compiled.slice(0, at)}${sep}test${sep}${compiled.slice(at + marker.length)}`;
}

export const REWRITE = process.env['REWRITE'] === '1';
/** `SCENARIO=figure-8` runs (or rewrites) only the files whose name contains it. */
const ONLY = process.env['SCENARIO'] ?? '';

/** One test per `*.txt` file in `folder` (next to the calling test's source). */
export function runTestdata(moduleUrl: string, folder: string, makeRunner: (file: string) => CommandRunner): void {
  const dir = join(sourceFolder(moduleUrl), folder);
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
  if (files.length === 0) throw new Error(`no scenario files in ${dir}`);
  for (const file of files.filter((f) => f.includes(ONLY))) {
    const path = join(dir, file);
    test(file, () => runScenarioFile(path, relative(process.cwd(), path), () => makeRunner(file), REWRITE));
  }
}
