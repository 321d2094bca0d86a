/**
 * Options more than one command has, declared once so their names, defaults and help agree
 * (serve and snapshot restore describe the same member; dev, sim, serve and snapshot pick a protocol).
 */
import { DEFAULT_PROTOCOL, PROTOCOLS } from '../../protocols/registry.js';
import type { LogLevel } from '../../node/config.js';
import { UsageError } from '../command.js';
import type { StringOption } from '../options/types.js';

/** --protocol, with the registry's protocols as its choices (`quorate help protocols` describes them). */
export function protocolOption(help: string): StringOption & { readonly default: string } {
  return { type: 'string', default: DEFAULT_PROTOCOL, choices: [...PROTOCOLS.keys()], placeholder: 'NAME', help: `${help} (\`quorate help protocols\` describes each).` };
}

/** How a member is named and where it lives: the same flags for serve and snapshot restore. */
export const MEMBER_OPTIONS = {
  name: { type: 'string', default: 'default', placeholder: 'NAME', etcd: true, help: 'this member\'s name, as in --initial-cluster.' },
  'data-dir': { type: 'string', placeholder: 'DIR', defaultText: '"NAME.etcd"', etcd: true, help: 'where the WAL, snapshots and member identity live.' },
  'initial-advertise-peer-urls': { type: 'string', placeholder: 'URLS', defaultText: 'the listen peer URLs', etcd: true, help: 'this member\'s peer URLs as the others reach them.' },
  'initial-cluster': { type: 'string', placeholder: 'NAME=URL,...', defaultText: 'NAME=initial-advertise-peer-urls', etcd: true, help: 'every member at bootstrap.' },
  'initial-cluster-token': { type: 'string', default: 'etcd-cluster', placeholder: 'TOKEN', etcd: true, help: 'tells this cluster\'s bootstrap apart from another\'s.' },
} as const satisfies Record<string, StringOption>;

/** The members' log levels, least to most severe (node/text-logger.ts filters by them). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];

/**
 * etcd's (zap's) levels above error. quorate has nothing more severe than error, so they log
 * errors only; accepted so that an etcd deployment's --log-level works unchanged.
 */
const ETCD_SEVERE_LOG_LEVELS = ['dpanic', 'panic', 'fatal'] as const;

/** What --log-level accepts: quorate's levels and etcd's more severe ones. */
export const LOG_LEVEL_CHOICES = [...LOG_LEVELS, ...ETCD_SEVERE_LOG_LEVELS] as const;

/** The level a --log-level choice means: etcd's levels above error are error, the nearest quorate has. */
export function logLevel(choice: string): LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(choice) ? choice as LogLevel : 'error';
}

/** A comma-separated list, as etcd's URL flags take them. */
export const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** The one subcommand word (`keys generate`, `snapshot restore FILE`) and its arguments; anything else is bad input. */
export function subcommand(positionals: readonly string[], word: string, argumentCount: number, usage: string): string[] {
  if (positionals[0] !== word || positionals.length !== 1 + argumentCount) {
    const got = positionals.length === 0 ? 'nothing' : `'${positionals.join(' ')}'`;
    throw new UsageError(`expected ${usage}, got ${got}`);
  }
  return positionals.slice(1);
}
