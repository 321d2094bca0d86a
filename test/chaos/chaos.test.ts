/**
 * `quorate chaos` end to end, as a user runs it: real members in network namespaces under
 * partitions, kills and pauses; quorate and a real etcd must come out linearizable, and a member
 * that serves reads from its own state (the stale-read mutant) must be caught. Needs root,
 * iproute2, iptables and Debian's etcd-server (.ci/run installs them); skipped, saying why, without.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { findEtcd } from '../../src/chaos/cluster.js';
import { labPrerequisites } from '../../src/chaos/lab.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const missing = labPrerequisites();
if (findEtcd() === null) missing.push('etcd');
const skip = missing.length > 0 ? `needs ${missing.join(', ')}` : false;

/** Attempts of the mutant run: each a short run, so a catch is near certain in a few. */
const MUTANT_ATTEMPTS = 3;

function chaos(args: string[]): { status: number | null; report: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-chaos-'));
  try {
    const r = spawnSync(process.execPath, [MAIN, 'chaos', '--out', dir, ...args], { encoding: 'utf8', timeout: 240_000 });
    let report = '';
    try {
      report = readFileSync(join(dir, 'report.md'), 'utf8');
    } catch {
      report = `(no report) ${r.stderr}`;
    }
    return { status: r.status, report, out: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report's one results row, split into its cells. */
function row(report: string): string[] {
  const line = report.split('\n').find((l) => l.startsWith('| quorate') || l.startsWith('| etcd'));
  assert.ok(line !== undefined, report);
  return line.split('|').slice(1, -1).map((c) => c.trim());
}

describe('quorate chaos', { skip }, () => {
  for (const system of ['quorate', 'etcd']) {
    it(`${system} under partitions, kills and pauses: linearizable, and serving again after the heal`, () => {
      const r = chaos(['--system', system, '--time-limit', '15', '--nemesis', 'partition,kill,pause', '--seed', '7']);
      assert.equal(r.status, 0, r.report);
      const cells = row(r.report);
      assert.equal(cells.at(-1), 'linearizable', r.report);
      assert.ok(Number(cells[4]) > 100, `ok operations: ${r.report}`);
      assert.ok(Number(cells.at(-2)) > 0, `ok operations after the heal: ${r.report}`);
      assert.match(r.report, /\| \d+\.\d \| \d+\.\d \| (partition|kill|pause)/, 'the nemesis injected faults');
    });
  }

  it('has teeth: a member serving linearizable reads from its own state (stale-read) is caught under partitions', () => {
    const verdicts: string[] = [];
    for (let attempt = 1; attempt <= MUTANT_ATTEMPTS; attempt++) {
      const r = chaos(['--unsafe-mutant', 'stale-read', '--nemesis', 'partition', '--partitions', 'halves,leader', '--time-limit', '20', '--seed', String(attempt)]);
      verdicts.push(`${r.status}`);
      if (r.status === 1) {
        assert.match(r.report, /no linearization of these operations/);
        return;
      }
    }
    assert.fail(`not caught in ${MUTANT_ATTEMPTS} runs (exit codes ${verdicts.join(', ')})`);
  });

  it('refuses what it has not built, by name (exit 3)', () => {
    for (const args of [['--workload', 'lock'], ['--nemesis', 'skew'], ['--unsafe-mutant', 'no-such-bug'], ['--system', 'etcd', '--unsafe-mutant', 'stale-read']]) {
      const r = spawnSync(process.execPath, [MAIN, 'chaos', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 3, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
