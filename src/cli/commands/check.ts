/**
 * `quorate check`: is a recorded history linearizable? One line per file; exit code is the
 * worst verdict: 3 bad input, 1 not linearizable, 2 unknown, 0 linearizable.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkHistory, formatWindow } from '../../check/linearizability.js';
import { HistoryFormatError, parseJepsen, parseJsonLines } from '../../check/formats.js';
import { UsageError, type Command } from '../command.js';

const USAGE = `usage: quorate check --model register|kv --format jepsen|jsonl [--max-steps N] [--timeout-ms N] FILE...

Prints 'linearizable', 'not linearizable' (with the operations that cannot be linearized) or
'unknown' (the search budget ran out) per file. Exit code: 0 linearizable, 1 not linearizable,
2 unknown, 3 bad input; with several files, the worst (3, then 1, then 2).`;

const EXIT = { linearizable: 0, 'not-linearizable': 1, unknown: 2 } as const;
const SEVERITY = [0, 2, 1, 3]; // exit code → how bad

export const checkCommand: Command = {
  name: 'check',
  summary: 'check a recorded history (Jepsen log or JSON lines) for linearizability',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string', default: 'register' },
        format: { type: 'string', default: 'jepsen' },
        'max-steps': { type: 'string' },
        'timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.model !== 'register' && values.model !== 'kv') throw new UsageError(`--model must be register or kv, got '${values.model}'`);
    if (values.format !== 'jepsen' && values.format !== 'jsonl') throw new UsageError(`--format must be jepsen or jsonl, got '${values.format}'`);
    if (positionals.length === 0) throw new UsageError(`no history files given\n\n${USAGE}`);
    const num = (flag: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer`);
      return n;
    };
    const maxSteps = num('--max-steps', values['max-steps']);
    const timeoutMs = num('--timeout-ms', values['timeout-ms']);
    let worst = 0;
    const many = positionals.length > 1;
    for (const file of positionals) {
      let code: number;
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
        const ops = values.format === 'jepsen' ? parseJepsen(text, file) : parseJsonLines(text, file);
        const r = checkHistory(ops, values.model, { ...(maxSteps ? { maxSteps } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
        const verdict = r.verdict === 'not-linearizable' ? 'not linearizable' : r.verdict;
        console.log(many ? `${file}: ${verdict}` : verdict);
        if (r.verdict === 'not-linearizable') console.log(formatWindow(r));
        code = EXIT[r.verdict];
      } catch (err) {
        if (err instanceof HistoryFormatError) console.error(`bad input: ${err.message}`);
        else if ((err as NodeJS.ErrnoException).code === 'ENOENT') console.error(`bad input: ${file}: no such file`);
        else throw err;
        if (many) console.log(`${file}: bad input`);
        code = 3;
      }
      if (SEVERITY[code]! > SEVERITY[worst]!) worst = code;
    }
    return worst;
  },
};
