/**
 * A `quorate` subcommand, declared once: its options, usage lines, exit codes and JSON output.
 * Parsing, `--help`, docs/cli.md and the shell completions are all made from the declaration.
 * Each command lives in its own file under commands/ and is listed in registry.ts.
 */
import { splitArgv, type RawArgs } from './options/argv.js';
import { helpText } from './options/help.js';
import type { Options, Sourced, Values } from './options/types.js';
import { resolveValues } from './options/values.js';

export { UsageError } from './usage-error.js';

/** One kind of JSON line a command prints with --json: its fields, for docs/cli.md. */
export interface JsonRecord {
  /** The value of the record's `type` field. */
  readonly type: string;
  readonly help: string;
  /** Field name and meaning, in the order printed. */
  readonly fields: readonly (readonly [string, string])[];
}

export interface CommandInfo {
  readonly name: string;
  /** One line for `quorate help`. */
  readonly summary: string;
  /** What follows `quorate NAME` on each usage line (default: "[options]"). */
  readonly usage?: readonly string[];
  /** Paragraphs after the usage lines. */
  readonly description?: string;
  readonly options: Options;
  /** Positional arguments: their first word's choices (for completion), or none allowed when absent. */
  readonly positionals?: { readonly words?: readonly string[] };
  /** Every exit code the command can end with, and what it means. */
  readonly exitCodes: readonly (readonly [number, string])[];
  /** What --json prints, one object per line. */
  readonly json?: readonly JsonRecord[];
}

export interface Command extends CommandInfo {
  /** Runs the command; resolves to the process exit code. Bad input throws UsageError. */
  run(argv: string[]): Promise<number>;
}

export interface Parsed<O extends Options> {
  readonly values: Values<O>;
  /** Options that were set (on the command line or by a fallback), not defaulted. */
  readonly given: ReadonlySet<keyof O & string>;
  /** Where each given option's value came from: `--name`, `ETCD_NAME`, `name in etcd.yml`. */
  readonly from: ReadonlyMap<keyof O & string, string>;
  readonly positionals: readonly string[];
  /** What the fallback had to say (settings it could not use, say). */
  readonly warnings: readonly string[];
}

/** Values for options not on the command line (serve: etcd's environment variables and config file). */
export type Fallback = (args: RawArgs) => { sources: Map<string, Sourced>; warnings: string[] };

/** `--help`, which every command has. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h', help: 'print this help and exit' } } as const;

export interface CommandDefinition<O extends Options> extends CommandInfo {
  readonly options: O;
  readonly fallback?: Fallback;
  run(args: Parsed<O & typeof HELP_OPTION>): Promise<number>;
}

/**
 * How a check across options names one: by where its value came from (`ETCD_ELECTION_TIMEOUT`,
 * `election-timeout in etcd.yml`), so the operator fixes the right place; `--flag` when defaulted.
 */
export function sourceOf(parsed: { readonly from: ReadonlyMap<string, string> }, name: string): string {
  return parsed.from.get(name) ?? `--${name}`;
}

/** Parses argv by the declarations; `--help` is answered here. */
export function parseCommandLine<O extends Options>(def: CommandDefinition<O>, argv: readonly string[]): Parsed<O & typeof HELP_OPTION> | 'help' {
  const options = { ...def.options, ...HELP_OPTION };
  const raw = splitArgv(argv, options, def.positionals !== undefined);
  const help = raw.given.get('help');
  // Checked first, so --help works beside values that are wrong; --help=maybe is itself wrong.
  if (help !== undefined && resolveValues(HELP_OPTION, new Map([['help', help]])).values.help) return 'help';
  const fallback = def.fallback?.(raw) ?? { sources: new Map<string, Sourced>(), warnings: [] };
  const { values, given, from } = resolveValues(options, raw.given, fallback.sources);
  return { values, given, from, positionals: raw.positionals, warnings: fallback.warnings };
}

export function defineCommand<const O extends Options>(def: CommandDefinition<O>): Command {
  const info: CommandInfo = { ...def, options: { ...def.options, ...HELP_OPTION } };
  return {
    ...info,
    async run(argv) {
      const parsed = parseCommandLine(def, argv);
      if (parsed === 'help') {
        console.log(helpText(info));
        return 0;
      }
      return def.run(parsed);
    },
  };
}
