/**
 * `quorate compare`: every engine of the registry (or those named) on the same workloads, network
 * models and scripted faults in the simulator, and the book's claims measured on them. Writes a
 * Markdown report (also printed) and a self-contained HTML page with charts.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBookClaims } from '../../compare/book-claims.js';
import { compare, fitsEngine } from '../../compare/compare.js';
import { compareHtml } from '../../compare/render-html.js';
import { compareMarkdown } from '../../compare/render-markdown.js';
import { PROTOCOLS } from '../../protocols/registry.js';
import { defineCommand, UsageError } from '../command.js';
import { fileErrorReason } from '../file-errors.js';
import { packageVersion } from './version.js';

/** Cluster sizes --nodes accepts (a simulated cluster of more is slow to measure and says little more). */
const MAX_NODES = 16;

/** The smallest cluster compared: fewer members tolerate no fault. */
const MIN_NODES = 3;
/** The largest seed: the simulator's random streams take 32 bits of it. */
const MAX_SEED = 2 ** 32 - 1;

function parseList(spec: string, what: string): string[] {
  const items = spec.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new UsageError(`--${what}: '${spec}' is not a comma-separated list of values`);
  return items;
}

/**
 * Make --out now, before minutes of runs: an existing directory this process may write, or a new
 * one in an existing directory (not made recursively: a path through /proc would hang).
 */
function prepareOut(dir: string): void {
  try {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${dir}: not a directory`);
      accessSync(dir, constants.W_OK);
      return;
    }
    mkdirSync(dir);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`--out ${dir}: the directory it would be made in does not exist`);
    const reason = fileErrorReason(err);
    if (reason === undefined) throw err;
    throw new UsageError(`--out ${dir}: ${reason}`);
  }
}

export const compareCommand = defineCommand({
  name: 'compare',
  summary: 'measure every engine the same way in the simulator, and the book\'s claims on them',
  usage: ['[options]'],
  description: [
    'Runs each protocol (all in the registry unless --protocols) on identical workloads, network models (a fixed 1 ms delay, one data centre, availability zones, regions) and scripted faults (the leader crashed, f and f + 1 members down for good, one link of the leader cut) in the simulator, at f = 1, 2, 3 (crash-fault engines 3/5/7 members, Byzantine ones 4/7/10; --quick: f = 1). Prints a Markdown report: per engine and size, messages and bytes per operation, the delays on a write\'s critical path, write latency p50/p99 per model, throughput under a per-message CPU cost model, failover time, leader changes under a partial partition, tolerated faults; then every claim of docs/book-claims.md with the book\'s figure, the measured one and a verdict (holds, differs, not measured and why).',
    '',
    'With --out DIR it also writes DIR/compare.md and DIR/compare.html (a self-contained page with charts: latency distributions, messages versus members, throughput versus operations in flight). Every figure comes from a run made from --seed; the report prints the command that makes it again.',
  ].join('\n'),
  options: {
    protocols: { type: 'string', placeholder: 'NAME,...', defaultText: 'every protocol of the registry', help: `the engines to compare, of: ${[...PROTOCOLS.keys()].join(', ')}.` },
    nodes: { type: 'string', placeholder: 'N,...', defaultText: 'f = 1, 2, 3 per engine', help: 'cluster sizes to measure every engine at (a Byzantine engine skips sizes below 4).' },
    quick: { type: 'boolean', help: 'f = 1 only, shorter runs: about 15 s on 2 cores (the full report: about 2 minutes).' },
    seed: { type: 'integer', default: 1, min: 1, max: MAX_SEED, help: 'the seed of every run.' },
    out: { type: 'string', placeholder: 'DIR', help: 'write compare.md and compare.html there (made if missing).' },
  },
  positionals: {},
  exitCodes: [[0, 'the report was made'], [3, 'bad input (an option, an unknown protocol, a directory that cannot be written)']],
  async run({ values }) {
    const names = values.protocols === undefined ? [...PROTOCOLS.keys()] : parseList(values.protocols, 'protocols');
    const protocols = names.map((n) => {
      const p = PROTOCOLS.get(n);
      if (p === undefined) throw new UsageError(`unknown protocol '${n}'; known: ${[...PROTOCOLS.keys()].join(', ')}`);
      return p;
    });
    let nodes: number[] | undefined;
    if (values.nodes !== undefined) {
      nodes = parseList(values.nodes, 'nodes').map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < MIN_NODES || n > MAX_NODES) throw new UsageError(`--nodes: '${s}' is not a cluster size of ${MIN_NODES} to ${MAX_NODES}`);
        return n;
      });
      const sizes = nodes;
      const unfit = protocols.filter((p) => !sizes.some((n) => fitsEngine(p, n)));
      if (unfit.length > 0) throw new UsageError(`--nodes ${sizes.join(',')}: no size for ${unfit.map((p) => p.name).join(', ')} (a Byzantine engine needs at least 4 members)`);
    }
    if (values.out !== undefined) prepareOut(values.out);
    const args = ['quorate compare', ...(values.protocols === undefined ? [] : [`--protocols ${names.join(',')}`]), ...(nodes === undefined ? [] : [`--nodes ${nodes.join(',')}`]), ...(values.quick === true ? ['--quick'] : []), `--seed ${values.seed}`];
    const report = compare({
      protocols, quick: values.quick === true, seed: values.seed, claims: readBookClaims(), command: args.join(' '), version: packageVersion(),
      progress: (line) => process.stderr.write(`${line}\n`),
      ...(nodes === undefined ? {} : { nodes }),
    });
    const markdown = compareMarkdown(report);
    if (values.out !== undefined) {
      try {
        writeFileSync(join(values.out, 'compare.md'), markdown);
        writeFileSync(join(values.out, 'compare.html'), compareHtml(report));
      } catch (err) {
        const reason = fileErrorReason(err);
        if (reason === undefined) throw err;
        throw new UsageError(`cannot write the report into ${values.out}: ${reason}`);
      }
    }
    process.stdout.write(markdown);
    return 0;
  },
});
