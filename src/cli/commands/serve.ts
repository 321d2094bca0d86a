/**
 * `quorate serve`: run one member of an etcd-compatible cluster. Flags are named and default
 * like etcd's, so an etcd operator's command line works unchanged (for the flags quorate has).
 */
import { textLogger } from '../../node/text-logger.js';
import { PROTOCOLS } from '../../protocols/registry.js';
import { startMember, type MemberOptions } from '../../server/index.js';
import type { PeerCertMemberBinding } from '../../transport/index.js';
import { parseAutoCompaction } from '../../server/auto-compaction.js';
import { defineCommand, parseCommandLine, sourceOf, UsageError, type Command } from '../command.js';
import type { OptionSpec, Values } from '../options/types.js';
import { etcdFallback } from '../etcd/fallback.js';
import { helpText } from '../options/help.js';
import { SERVE_OPTIONS } from './serve-options.js';
import { list, logLevel } from './shared-options.js';

/** The serve options as parsed: values, and where each given one came from. */
interface ServeParsed { readonly values: Values<typeof SERVE_OPTIONS>; readonly from: ReadonlyMap<string, string> }
type ServeOption = keyof typeof SERVE_OPTIONS & string;
/** How a config file's value is labelled: `KEY in FILE` (see etcd/config-file.ts). */
const CONFIG_LABEL = ' in ';

function autoCompactionFlags(parsed: ServeParsed): ReturnType<typeof parseAutoCompaction> {
  try {
    return parseAutoCompaction(parsed.values['auto-compaction-mode'], parsed.values['auto-compaction-retention'], sourceOf(parsed, 'auto-compaction-retention'));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Options that only work together (a certificate and its key): some given without the others
 * is bad input, naming the given ones where they were given and the missing ones by flag, or by
 * key when the given ones came from a config file (etcd then reads nothing else).
 */
function goTogether(parsed: ServeParsed, names: readonly ServeOption[]): void {
  const given = names.filter((n) => parsed.values[n] !== undefined && parsed.values[n] !== false);
  const missing = names.filter((n) => !given.includes(n));
  if (given.length === 0 || missing.length === 0) return;
  const and = (items: string[]): string => items.length === 1 ? items[0]! : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
  // The label is `KEY in FILE`; a key has no ' in ', a path may: the file is all after the first.
  const label = given.map((n) => parsed.from.get(n)).find((l) => l?.includes(CONFIG_LABEL) === true);
  const file = label?.slice(label.indexOf(CONFIG_LABEL) + CONFIG_LABEL.length);
  const missingName = (n: ServeOption): string => file === undefined ? `--${n}` : `${(SERVE_OPTIONS[n] as OptionSpec).configKey ?? n} in ${file}`;
  throw new UsageError(`${and(given.map((n) => sourceOf(parsed, n)))} ${given.length === 1 ? 'is' : 'are'} given without ${and(missing.map(missingName))}: they go together`);
}

/** An option and its value for a message: `ETCD_ELECTION_TIMEOUT (400)`, `--heartbeat-interval (100, the default)`. */
function withValue(parsed: ServeParsed, name: ServeOption): string {
  return `${sourceOf(parsed, name)} (${String(parsed.values[name])}${parsed.from.has(name) ? '' : ', the default'})`;
}

const DEFINITION = {
  name: 'serve',
  summary: 'run one member of an etcd-compatible replicated KV cluster (etcd-style flags)',
  usage: ['[options]   (flags as etcd\'s: --flag=value, --flag value or -flag value)'],
  description: 'Runs one member. Every option with an etcd variable in docs/cli.md is etcd\'s flag of the same name and is also read, as etcd reads it, from the environment variable ETCD_FLAG_NAME (the flag wins) or from etcd\'s YAML --config-file; etcd settings quorate does not have are named in a warning. Data is durable once a request is answered: every write is fsynced on a majority first.',
  options: SERVE_OPTIONS,
  exitCodes: [
    [0, 'a clean stop (SIGINT or SIGTERM)'],
    [1, 'a fatal error while serving'],
    [3, 'bad input: an unknown option, a bad value (from a flag, a variable or the config file), or a member that cannot start with it'],
  ],
} as const;

/** The member's options from the command line, etcd's variables in `env` and etcd's config file; and what was ignored. */
export function parseServe(argv: string[], env: NodeJS.ProcessEnv = process.env): { options: MemberOptions; warnings: readonly string[] } | 'help' {
  const parsed = parseCommandLine({ ...DEFINITION, fallback: etcdFallback(SERVE_OPTIONS, env), run: async () => 0 }, argv);
  if (parsed === 'help') return 'help';
  return { options: memberOptions(parsed), warnings: parsed.warnings };
}

export function parseServeFlags(argv: string[], env: NodeJS.ProcessEnv = process.env): MemberOptions | 'help' {
  const r = parseServe(argv, env);
  return r === 'help' ? 'help' : r.options;
}

function memberOptions(parsed: ServeParsed): MemberOptions {
  const { values } = parsed;
  const name = values.name;
  const listenClientUrls = list(values['listen-client-urls']);
  const listenPeerUrls = list(values['listen-peer-urls']);
  const initialAdvertisePeerUrls = list(values['initial-advertise-peer-urls'] ?? values['listen-peer-urls']);
  goTogether(parsed, ['cert-file', 'key-file']);
  goTogether(parsed, ['peer-cert-file', 'peer-key-file', 'peer-trusted-ca-file']);
  // Binding certificates to members means nothing without peer TLS: given alone it would read as a
  // protection the member does not have (common-name) or a choice it does not make (none).
  if (parsed.from.has('peer-cert-member-binding') && values['peer-cert-file'] === undefined) {
    throw new UsageError(`${sourceOf(parsed, 'peer-cert-member-binding')} applies only with peer TLS (--peer-cert-file, --peer-key-file and --peer-trusted-ca-file, with https:// peer URLs)`);
  }
  const heartbeat = values['heartbeat-interval'];
  const election = values['election-timeout'];
  // etcd's own rule: fewer than five heartbeats per election timeout makes elections spurious.
  if (election < 5 * heartbeat) throw new UsageError(`${withValue(parsed, 'election-timeout')} should be at least 5 times ${withValue(parsed, 'heartbeat-interval')}`);
  const prefix = `[${name}] `;
  const memberKeys = memberKeyFlags(parsed);
  return {
    name,
    protocol: values.protocol,
    dataDir: values['data-dir'] ?? `${name}.etcd`,
    listenClientUrls,
    advertiseClientUrls: list(values['advertise-client-urls'] ?? values['listen-client-urls']),
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster: values['initial-cluster'] ?? initialAdvertisePeerUrls.map((u) => `${name}=${u}`).join(','),
    initialClusterState: values['initial-cluster-state'] as 'new' | 'existing',
    initialClusterToken: values['initial-cluster-token'],
    clientTls: values['cert-file'] === undefined || values['key-file'] === undefined ? null : {
      certFile: values['cert-file'], keyFile: values['key-file'],
      trustedCaFile: values['trusted-ca-file'] ?? null, clientCertAuth: values['client-cert-auth'],
    },
    peerTls: values['peer-cert-file'] === undefined || values['peer-key-file'] === undefined || values['peer-trusted-ca-file'] === undefined ? null : {
      certFile: values['peer-cert-file'], keyFile: values['peer-key-file'], trustedCaFile: values['peer-trusted-ca-file'],
      memberBinding: values['peer-cert-member-binding'] as PeerCertMemberBinding,
    },
    snapshotCount: values['snapshot-count'],
    heartbeatIntervalMs: heartbeat,
    electionTimeoutMs: election,
    maxRequestBytes: values['max-request-bytes'],
    maxTxnOps: values['max-txn-ops'],
    authTokenTtlMs: values['auth-token-ttl'] * 1_000,
    quotaBackendBytes: values['quota-backend-bytes'],
    corruptCheckIntervalMs: values['experimental-corrupt-check-time'],
    autoCompaction: autoCompactionFlags(parsed),
    listenMetricsUrls: list(values['listen-metrics-urls']),
    logger: textLogger(logLevel(values['log-level']), (line) => process.stderr.write(prefix + line)),
    progressNotifyIntervalMs: values['experimental-watch-progress-notify-interval'],
    ...(memberKeys === undefined ? {} : { memberKeys }),
    allowInsecureKeyPermissions: values['allow-insecure-key-permissions'],
    ...(values['unsafe-mutant'] === undefined ? {} : { unsafeMutant: values['unsafe-mutant'] }),
    ...(values['peer-secret-file'] === undefined ? {} : { peerSecretFile: values['peer-secret-file'] }),
  };
}

/** The key flags, checked together; absent for a protocol that needs keys, startMember refuses to start (it says why). */
function memberKeyFlags(parsed: ServeParsed): MemberOptions['memberKeys'] {
  const { values } = parsed;
  const privateKeyFile = values['bft-private-key'];
  const publicKeysFile = values['bft-public-keys'];
  const insecure = values['bft-insecure-keys-from-token'];
  const given = privateKeyFile !== undefined || publicKeysFile !== undefined || insecure;
  if (!given) return undefined;
  if (PROTOCOLS.get(values.protocol)?.keys !== 'per-member') throw new UsageError(`--bft-private-key, --bft-public-keys and --bft-insecure-keys-from-token apply only to protocols whose members need keys; ${values.protocol} does not`);
  if (insecure) {
    if (privateKeyFile !== undefined || publicKeysFile !== undefined) throw new UsageError(`${sourceOf(parsed, 'bft-insecure-keys-from-token')} replaces --bft-private-key and --bft-public-keys: give one or the other`);
    return 'insecure-from-token';
  }
  goTogether(parsed, ['bft-private-key', 'bft-public-keys']);
  return { privateKeyFile: privateKeyFile!, publicKeysFile: publicKeysFile! };
}

export const serveCommand: Command = {
  ...defineCommand({ ...DEFINITION, fallback: etcdFallback(SERVE_OPTIONS, process.env), run: async () => 0 }),
  async run(argv) {
    const parsed = parseServe(argv);
    if (parsed === 'help') {
      console.log(helpText(serveCommand));
      return 0;
    }
    const { options, warnings } = parsed;
    const log = options.logger;
    for (const w of warnings) log('warn', w);
    const member = await startMember(options).catch((err: unknown) => {
      throw new UsageError((err as Error).message);
    });
    log('info', 'serving clients', { clientUrls: options.advertiseClientUrls });
    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (code: number): void => {
        if (stopping) return;
        stopping = true;
        member.stop().then(() => resolve(code), () => resolve(1));
      };
      process.once('SIGINT', () => { log('info', 'stopping (SIGINT)'); stop(0); });
      process.once('SIGTERM', () => { log('info', 'stopping (SIGTERM)'); stop(0); });
      // Started by `quorate dev` (through an IPC channel): stop when it is gone, however it went.
      if (process.channel !== undefined) {
        process.channel.unref();
        process.once('disconnect', () => { log('info', 'stopping (the quorate dev that started this member is gone)'); stop(0); });
      }
      member.node.once('fatal', (err) => { log('error', 'fatal error', { error: err.message }); stop(1); });
    });
  },
};
