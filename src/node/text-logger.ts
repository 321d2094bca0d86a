/**
 * A plain-text logger for command-line servers: one line per event on stderr,
 * `time level message key=value ...`, filtered by level.
 */
import type { Logger, LogLevel } from './config.js';

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

export function isLogLevel(s: string): s is LogLevel {
  return Object.hasOwn(RANK, s);
}

export function textLogger(minimum: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  return (level, message, fields) => {
    if (RANK[level] < RANK[minimum]) return;
    let line = `${new Date().toISOString()} ${level.padEnd(5)} ${message}`;
    for (const [k, v] of Object.entries(fields ?? {})) line += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    write(`${line}\n`);
  };
}
