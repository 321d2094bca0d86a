/**
 * `quorate check`: is a recorded history linearizable (register, kv), or strictly serializable
 * (list-append, Elle's checker)? One line per file; exit code is the worst verdict: 3 bad input,
 * 1 not linearizable / invalid, 2 unknown, 0 linearizable / valid.
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { checkHistory, formatWindow } from '../../check/linearizability.js';
import { HistoryFormatError, parseJepsen, parseJsonLines } from '../../check/formats.js';
import { timelineHtml } from '../../check/timeline-html.js';
import { checkListAppend, formatListAppendResult, ListAppendInputError, parseListAppendJsonLines } from '../../check/elle/index.js';
import { defineCommand, UsageError } from '../command.js';
import { fileErrorReason } from '../file-errors.js';

const EXIT = { linearizable: 0, 'not-linearizable': 1, unknown: 2, valid: 0, invalid: 1 } as const;
const SEVERITY = [0, 2, 1, 3]; // exit code → how bad

/** The file name that means standard input, as for cat and most tools that take files. */
const STDIN = '-';

/** The history's text: the file's, or standard input's for `-`. */
async function readHistory(file: string): Promise<string> {
  return file === STDIN ? readStdin() : readFileSync(file, 'utf8');
}

/**
 * Standard input as text, refused past the longest string Node can hold, with the same error
 * code readFileSync gives a file that large (so it is one line and exit 3, not a RangeError).
 */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > bufferConstants.MAX_STRING_LENGTH) {
      process.stdin.destroy();
      throw Object.assign(new Error('standard input is too large to read'), { code: 'ERR_STRING_TOO_LONG' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Thrown for a history with nothing to judge; reported as bad input, like a malformed one. */
class NoOperationsError extends Error {}

/**
 * Why a file yields no operations. An empty history would be trivially linearizable, but a file
 * without one is almost always a mistake (an empty or truncated log, the wrong --format), so it
 * gets no verdict.
 */
function noOperations(file: string, text: string, format: string): NoOperationsError {
  if (text.trim() === '') return new NoOperationsError(`no operations in ${file}: it is empty`);
  if (format === 'jsonl') return new NoOperationsError(`no operations in ${file}: only blank and # lines`);
  // The Jepsen reader skips lines it does not know (logging, nemesis), so garbage reads as nothing.
  const hint = text.trimStart().startsWith('{') ? ' (JSON lines need --format jsonl)' : '';
  return new NoOperationsError(`no operations in ${file}: no Jepsen :read, :write or :cas lines${hint}`);
}

/** Whether two paths name one file (through links, when both exist). */
function samePath(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/** Write the --html page; why it could not be (null: written). */
function writeTimeline(path: string, page: string): string | null {
  try {
    writeFileSync(path, page);
    return null;
  } catch (err) {
    const reason = fileErrorReason(err);
    if (reason === undefined) throw err;
    return `cannot write ${path}: ${reason}`;
  }
}

export const checkCommand = defineCommand({
  name: 'check',
  summary: 'check a recorded history (Jepsen log or JSON lines) for linearizability, or a list-append one for strict serializability',
  usage: ['[options] FILE...'],
  description: [
    'Prints \'linearizable\', \'not linearizable\' (with the operations that cannot be linearized) or \'unknown\' (the search budget ran out) per file. A FILE of - is standard input (given once).',
    '',
    'With --model list-append (and --format jsonl) the history is one of transactions over lists, checked as Elle does (Kingsbury & Alvaro, VLDB 2020) for strict serializability: it prints \'valid\', \'invalid\' with each anomaly (G0, G1a, G1b, G1c, G-single, G2, their -realtime variants, internal, incompatible-order, duplicate-elements, garbage-read, lost) and its cycle, as "T1 -ww(x)-> T2 -rw(y)-> T1", and the transactions, or \'unknown\' (a limit reached). One transaction a line:',
    '  {"client":0,"txn":[["append","x",3],["r","y",[1,2]]],"outcome":"ok","invoke":100,"complete":112}',
    'txn: micro-ops ["append", key, value] and ["r", key, list]; a key is a string, a value an integer or a string, unique per key among appends; a read\'s list is null when the key does not exist, and null in a transaction that did not end ok. outcome: ok, fail (certainly did not commit) or unknown (may have committed; "complete" null or absent). invoke, complete: times in ms. Transactions are named T0, T1, ... in line order; blank and # lines are skipped.',
  ].join('\n'),
  options: {
    model: { type: 'string', default: 'register', choices: ['register', 'kv', 'list-append'], help: 'what the history operates on: one register, a key-value store, or transactions appending to and reading lists (needs --format jsonl).' },
    format: { type: 'string', default: 'jepsen', choices: ['jepsen', 'jsonl'], help: 'the history\'s format (docs/history-format.md).' },
    'max-steps': { type: 'integer', min: 1, help: 'give up (verdict unknown) after this many search steps.' },
    'timeout-ms': { type: 'integer', min: 1, placeholder: 'MS', help: 'give up (verdict unknown) after this long.' },
    json: { type: 'boolean', help: 'one JSON object per file instead of text (fields in docs/cli.md).' },
    html: { type: 'string', placeholder: 'FILE', help: 'also write the verdict as a timeline page: a lane per client, the longest linearization the search found numbered, the operation it could not place marked (one history file only).' },
  },
  positionals: {},
  exitCodes: [
    [0, 'every history is linearizable'],
    [1, 'a history is not linearizable (list-append: has an anomaly)'],
    [2, 'the search budget ran out on a history (verdict unknown)'],
    [3, 'bad input (an option, a missing, unreadable or malformed file, one with no operations, or an --html file that cannot be written); with several files the worst code wins: 3, then 1, then 2'],
  ],
  json: [{ type: 'result', help: 'one per file, in the order given', fields: [
    ['type', '"result"'], ['file', 'the history file'],
    ['verdict', '"linearizable", "not-linearizable", "unknown" or "bad-input"; list-append: "valid", "invalid", "unknown" or "bad-input"'],
    ['key', 'kv model: the key whose history decided the verdict, or null'],
    ['window', 'not-linearizable: the operations that cannot be linearized, as text lines; list-append: the anomalies, as text lines; otherwise empty'],
    ['error', 'bad-input: what is wrong with the file; with --html, why the page could not be written; or null'],
    ['exitCode', 'this file\'s exit code'],
  ] }],
  async run({ values, positionals }) {
    if (positionals.length === 0) throw new UsageError('no history files given (quorate check [options] FILE...)');
    // Standard input can be read once: a second - would be an empty history, not the same one.
    if (positionals.filter((f) => f === STDIN).length > 1) throw new UsageError(`'${STDIN}' (standard input) can be given only once`);
    const html = values.html;
    if (html !== undefined && positionals.length !== 1) throw new UsageError('--html draws one history: give exactly one FILE');
    if (html === '') throw new UsageError('--html needs a file name');
    const listAppend = values.model === 'list-append';
    if (listAppend && values.format !== 'jsonl') throw new UsageError('--model list-append reads JSON lines: give --format jsonl');
    if (listAppend && html !== undefined) throw new UsageError('--html draws linearizability checks only (not --model list-append)');
    if (html !== undefined && positionals[0] !== STDIN && samePath(html, positionals[0]!)) throw new UsageError(`--html ${html} would overwrite the history it draws`);
    const maxSteps = values['max-steps'];
    const timeoutMs = values['timeout-ms'];
    let worst = 0;
    const many = positionals.length > 1;
    const json = (o: { file: string; verdict: string; key?: string | undefined; window?: string; error?: string; exitCode: number }): void => {
      console.log(JSON.stringify({ type: 'result', file: o.file, verdict: o.verdict, key: o.key ?? null, window: o.window === undefined ? [] : o.window.split('\n'), error: o.error ?? null, exitCode: o.exitCode }));
    };
    for (const file of positionals) {
      let code: number;
      try {
        const text = await readHistory(file);
        if (listAppend) {
          const txns = parseListAppendJsonLines(text, file);
          if (txns.length === 0) throw noOperations(file, text, values.format);
          const r = checkListAppend(txns, { ...(maxSteps ? { maxSteps } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
          code = EXIT[r.verdict];
          const lines = formatListAppendResult(r);
          if (values.json) {
            json({ file, verdict: r.verdict, ...(lines.length > 0 ? { window: lines.join('\n') } : {}), exitCode: code });
          } else {
            console.log(many ? `${file}: ${r.verdict}` : r.verdict);
            for (const line of lines) console.log(line);
          }
          if (SEVERITY[code]! > SEVERITY[worst]!) worst = code;
          continue;
        }
        const ops = values.format === 'jepsen' ? parseJepsen(text, file) : parseJsonLines(text, file);
        if (ops.length === 0) throw noOperations(file, text, values.format);
        const r = checkHistory(ops, values.model as 'register' | 'kv', { ...(maxSteps ? { maxSteps } : {}), ...(timeoutMs ? { timeoutMs } : {}), ...(html === undefined ? {} : { explain: true }) });
        code = EXIT[r.verdict];
        // A page that cannot be written is bad input (exit 3), said where the verdict is.
        const pageError = html !== undefined && r.explanation !== undefined ? writeTimeline(html, timelineHtml({ file, verdict: r.verdict, explanation: r.explanation })) : null;
        if (pageError !== null) code = 3;
        if (values.json) {
          json({ file, verdict: r.verdict, key: r.key, ...(r.verdict === 'not-linearizable' ? { window: formatWindow(r) } : {}), ...(pageError === null ? {} : { error: pageError }), exitCode: code });
        } else {
          if (pageError !== null) console.error(`quorate check: ${pageError}`);
          const verdict = r.verdict === 'not-linearizable' ? 'not linearizable' : r.verdict;
          console.log(many ? `${file}: ${verdict}` : verdict);
          if (r.verdict === 'not-linearizable') console.log(formatWindow(r));
        }
      } catch (err) {
        let message: string;
        const reason = fileErrorReason(err);
        if (err instanceof HistoryFormatError || err instanceof NoOperationsError) message = err.message;
        else if (err instanceof ListAppendInputError) message = `${file}: ${err.message}`;
        else if (reason !== undefined) message = `${file}: ${reason}`;
        else throw err;
        code = 3;
        if (values.json) {
          json({ file, verdict: 'bad-input', error: message, exitCode: code });
        } else {
          // Worded as every command's bad input is (main.ts), though check goes on to the next file.
          console.error(`quorate check: ${message}`);
          if (many) console.log(`${file}: bad input`);
        }
      }
      if (SEVERITY[code]! > SEVERITY[worst]!) worst = code;
    }
    return worst;
  },
});
