/**
 * The command line into option values and positionals, by the declarations. Accepts what
 * node's parseArgs accepted (`--flag value`, `--flag=value`, `-h`) and what etcd's Go flags
 * accept (`-flag value`, `--bool=true`), so existing scripts and etcd manifests both work.
 */
import { UsageError } from '../command.js';
import type { Options, RawValue } from './types.js';
import { didYouMean } from './suggest.js';

export interface RawArgs {
  /** Each option given, by name, as typed (booleans as true or their `=value`). */
  readonly given: Map<string, RawValue>;
  readonly positionals: string[];
}

export function splitArgv(argv: readonly string[], options: Options, allowPositionals: boolean): RawArgs {
  const given = new Map<string, RawValue>();
  const positionals: string[] = [];
  const shorts = new Map(Object.entries(options).flatMap(([name, o]) => (o.short === undefined ? [] : [[o.short, name] as const])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const typed = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    const name = !arg.startsWith('--') && typed.length === 1 ? shorts.get(typed) : typed;
    const spec = name === undefined ? undefined : options[name];
    if (name === undefined || spec === undefined) {
      throw new UsageError(`unknown option '${arg.startsWith('--') ? '--' : '-'}${typed}'${didYouMean(typed, Object.keys(options))}`);
    }
    if (spec.type === 'boolean') {
      given.set(name, inline ?? true);
      continue;
    }
    // A value that looks like the next flag means this one's value was left out.
    const value = inline ?? (argv[i + 1]?.startsWith('--') === true ? undefined : argv[++i]);
    if (value === undefined) throw new UsageError(`option '--${name}' needs a value${spec.placeholder === undefined ? '' : ` (${spec.placeholder})`}`);
    if (spec.type === 'string' && spec.multiple === true) {
      const before = given.get(name);
      given.set(name, [...(Array.isArray(before) ? before : []), value]);
    } else {
      given.set(name, value);
    }
  }
  if (!allowPositionals && positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]!}' (options start with --)`);
  return { given, positionals };
}
