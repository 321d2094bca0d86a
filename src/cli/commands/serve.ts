/**
 * `quorate serve`: run one member of an etcd-compatible cluster. Flags are named and default
 * like etcd's, so an etcd operator's command line works unchanged (for the flags quorate has).
 */
import { parseArgs } from 'node:util';
import { isLogLevel, textLogger } from '../../node/text-logger.js';
import { DEFAULT_PROTOCOL, PROTOCOLS, protocolNames } from '../../protocols/registry.js';
import { startMember, type MemberOptions } from '../../server/index.js';
import { parseAutoCompaction } from '../../server/auto-compaction.js';
import { UsageError, type Command } from '../command.js';

const USAGE = () => `usage: quorate serve [flags]   (flags as etcd's; --flag=value or --flag value)

  --name NAME                          member name (default "default")
  --protocol ${protocolNames().padEnd(25)} the consensus protocol under the KV store (default ${DEFAULT_PROTOCOL}; every
                                       member the same). Protocols (see \`quorate help protocols\`):
${[...PROTOCOLS.values()].map((p) => `                                         ${p.name}: ${p.summary}`).join('\n')}
  --bft-private-key FILE               Byzantine protocols: this member's private keys (\`quorate keys generate\`)
  --bft-public-keys FILE               Byzantine protocols: every member's public keys (the same file everywhere)
  --bft-insecure-keys-from-token       trials only, instead of the two above: every member derives every key
                                       from the cluster token (INSECURE: anyone with it can act as any member)
  --data-dir DIR                       where the WAL, snapshots and member identity live (default "NAME.etcd")
  --listen-client-urls URLS            comma-separated, e.g. http://127.0.0.1:2379 (default http://localhost:2379)
  --advertise-client-urls URLS         what members tell clients (default: the listen client URLs)
  --listen-peer-urls URLS              e.g. http://127.0.0.1:2380 (default http://localhost:2380)
  --initial-advertise-peer-urls URLS   (default: the listen peer URLs)
  --initial-cluster NAME=URL,...       every member at bootstrap (default NAME=initial-advertise-peer-urls)
  --initial-cluster-state new|existing (default new; existing: join a running cluster after 'member add')
  --initial-cluster-token TOKEN        (default "etcd-cluster")
  --cert-file, --key-file FILE         serve clients over TLS
  --trusted-ca-file FILE               CA for client certificates
  --client-cert-auth                   require client certificates signed by the trusted CA
  --peer-cert-file, --peer-key-file    mutual TLS between members (with https:// peer URLs)
  --peer-trusted-ca-file FILE          CA that signs every member's peer certificate
  --peer-secret-file FILE              a secret every member shares (at least 16 bytes): each peer
                                       connection proves it; without it (or peer TLS) anyone who
                                       reaches the peer port can act as a member
  --peer-client-cert-auth              accepted for etcd compatibility: peer TLS is always mutual
  --allow-insecure-key-permissions     start even if a private key file (--key-file, --peer-key-file,
                                       --bft-private-key) is readable by group or others (refused
                                       otherwise, as ssh does; a warning is logged)
  --snapshot-count N                   applied entries between snapshots (default 100000)
  --heartbeat-interval MS              (default 100)
  --election-timeout MS                (default 1000)
  --max-request-bytes N                (default 1572864)
  --max-txn-ops N                      (default 128)
  --auth-token-ttl SECONDS             lifetime of auth tokens (default 300)
  --quota-backend-bytes N              raise the NOSPACE alarm above this db size (default 0: 2 GiB)
  --experimental-corrupt-check-time DURATION
                                       the leader compares HashKV with every member this often and
                                       raises the CORRUPT alarm on a mismatch (default 0s: off)
  --auto-compaction-mode periodic|revision
                                       (default periodic)
  --auto-compaction-retention R        periodic: keep this much history (90m, 72h, or hours as a
                                       number); revision: keep this many revisions (default 0: off)
  --listen-metrics-urls URLS           also serve /health and /metrics here (http:// only; they are
                                       on the client URLs too unless clients use TLS)
  --log-level debug|info|warn|error    (default info)
  --experimental-watch-progress-notify-interval DURATION
                                       idle watchers that asked for progress get one this often (default 10m)

Data is durable once a request is answered: every write is fsynced on a majority first.
Exit: 0 after a clean stop (SIGINT/SIGTERM), 1 on a fatal error, 3 for bad flags.`;

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

function autoCompactionFlags(mode: string, retention: string): ReturnType<typeof parseAutoCompaction> {
  try {
    return parseAutoCompaction(mode, retention);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag} must be a positive integer, got '${v}'`);
  return n;
}

function nonNegative(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} must be a non-negative integer, got '${v}'`);
  return n;
}

export function parseServeFlags(argv: string[]): MemberOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      name: { type: 'string', default: 'default' },
      protocol: { type: 'string', default: DEFAULT_PROTOCOL },
      'bft-private-key': { type: 'string' },
      'bft-public-keys': { type: 'string' },
      'bft-insecure-keys-from-token': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'listen-client-urls': { type: 'string', default: 'http://localhost:2379' },
      'advertise-client-urls': { type: 'string' },
      'listen-peer-urls': { type: 'string', default: 'http://localhost:2380' },
      'initial-advertise-peer-urls': { type: 'string' },
      'initial-cluster': { type: 'string' },
      'initial-cluster-state': { type: 'string', default: 'new' },
      'initial-cluster-token': { type: 'string', default: 'etcd-cluster' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
      'trusted-ca-file': { type: 'string' },
      'client-cert-auth': { type: 'boolean', default: false },
      'peer-cert-file': { type: 'string' },
      'peer-key-file': { type: 'string' },
      'peer-trusted-ca-file': { type: 'string' },
      'peer-client-cert-auth': { type: 'boolean', default: false },
      'allow-insecure-key-permissions': { type: 'boolean', default: false },
      'peer-secret-file': { type: 'string' },
      'snapshot-count': { type: 'string', default: '100000' },
      'heartbeat-interval': { type: 'string', default: '100' },
      'election-timeout': { type: 'string', default: '1000' },
      'max-request-bytes': { type: 'string', default: '1572864' },
      'max-txn-ops': { type: 'string', default: '128' },
      'auth-token-ttl': { type: 'string', default: '300' },
      'quota-backend-bytes': { type: 'string', default: '0' },
      'auto-compaction-mode': { type: 'string', default: 'periodic' },
      'experimental-corrupt-check-time': { type: 'string', default: '0s' },
      'auto-compaction-retention': { type: 'string', default: '0' },
      'listen-metrics-urls': { type: 'string', default: '' },
      'log-level': { type: 'string', default: 'info' },
      'experimental-watch-progress-notify-interval': { type: 'string', default: '10m' },
    },
  });
  if (values.help === true) return 'help';
  const name = values.name;
  const listenClientUrls = list(values['listen-client-urls']);
  const listenPeerUrls = list(values['listen-peer-urls']);
  const initialAdvertisePeerUrls = list(values['initial-advertise-peer-urls'] ?? values['listen-peer-urls']);
  const state = values['initial-cluster-state'];
  if (state !== 'new' && state !== 'existing') throw new UsageError(`--initial-cluster-state must be new or existing, got '${state}'`);
  const level = values['log-level'];
  if (!isLogLevel(level)) throw new UsageError(`--log-level must be debug, info, warn or error, got '${level}'`);
  if ((values['cert-file'] === undefined) !== (values['key-file'] === undefined)) throw new UsageError('--cert-file and --key-file go together');
  const peerFiles = [values['peer-cert-file'], values['peer-key-file'], values['peer-trusted-ca-file']];
  if (peerFiles.some((f) => f !== undefined) && peerFiles.some((f) => f === undefined)) {
    throw new UsageError('--peer-cert-file, --peer-key-file and --peer-trusted-ca-file go together');
  }
  const heartbeat = positive('heartbeat-interval', values['heartbeat-interval']);
  const election = positive('election-timeout', values['election-timeout']);
  if (election < 5 * heartbeat) throw new UsageError('--election-timeout should be at least 5 times --heartbeat-interval');
  if (!PROTOCOLS.has(values.protocol)) throw new UsageError(`--protocol must be one of ${protocolNames(', ')}, got '${values.protocol}'`);
  const prefix = `[${name}] `;
  const memberKeys = memberKeyFlags(values.protocol, values['bft-private-key'], values['bft-public-keys'], values['bft-insecure-keys-from-token']);
  return {
    name,
    protocol: values.protocol,
    dataDir: values['data-dir'] ?? `${name}.etcd`,
    listenClientUrls,
    advertiseClientUrls: list(values['advertise-client-urls'] ?? values['listen-client-urls']),
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster: values['initial-cluster'] ?? initialAdvertisePeerUrls.map((u) => `${name}=${u}`).join(','),
    initialClusterState: state,
    initialClusterToken: values['initial-cluster-token'],
    clientTls: values['cert-file'] === undefined || values['key-file'] === undefined ? null : {
      certFile: values['cert-file'], keyFile: values['key-file'],
      trustedCaFile: values['trusted-ca-file'] ?? null, clientCertAuth: values['client-cert-auth'],
    },
    peerTls: values['peer-cert-file'] === undefined || values['peer-key-file'] === undefined || values['peer-trusted-ca-file'] === undefined ? null : {
      certFile: values['peer-cert-file'], keyFile: values['peer-key-file'], trustedCaFile: values['peer-trusted-ca-file'],
    },
    snapshotCount: positive('snapshot-count', values['snapshot-count']),
    heartbeatIntervalMs: heartbeat,
    electionTimeoutMs: election,
    maxRequestBytes: positive('max-request-bytes', values['max-request-bytes']),
    maxTxnOps: positive('max-txn-ops', values['max-txn-ops']),
    authTokenTtlMs: positive('auth-token-ttl', values['auth-token-ttl']) * 1_000,
    quotaBackendBytes: nonNegative('quota-backend-bytes', values['quota-backend-bytes']),
    corruptCheckIntervalMs: /^0(ms|s|m|h)?$/.test(values['experimental-corrupt-check-time']) ? 0 : durationMs('experimental-corrupt-check-time', values['experimental-corrupt-check-time']),
    autoCompaction: autoCompactionFlags(values['auto-compaction-mode'], values['auto-compaction-retention']),
    listenMetricsUrls: list(values['listen-metrics-urls']),
    logger: textLogger(level, (line) => process.stderr.write(prefix + line)),
    progressNotifyIntervalMs: durationMs('experimental-watch-progress-notify-interval', values['experimental-watch-progress-notify-interval']),
    ...(memberKeys === undefined ? {} : { memberKeys }),
    allowInsecureKeyPermissions: values['allow-insecure-key-permissions'],
    ...(values['peer-secret-file'] === undefined ? {} : { peerSecretFile: values['peer-secret-file'] }),
  };
}

/** The key flags, checked together; absent for a protocol that needs keys, startMember refuses to start (it says why). */
function memberKeyFlags(protocol: string, privateKeyFile: string | undefined, publicKeysFile: string | undefined, insecure: boolean): MemberOptions['memberKeys'] {
  const given = privateKeyFile !== undefined || publicKeysFile !== undefined || insecure;
  if (!given) return undefined;
  if (PROTOCOLS.get(protocol)?.keys !== 'per-member') throw new UsageError(`--bft-private-key, --bft-public-keys and --bft-insecure-keys-from-token apply only to protocols whose members need keys; ${protocol} does not`);
  if (insecure) {
    if (privateKeyFile !== undefined || publicKeysFile !== undefined) throw new UsageError('--bft-insecure-keys-from-token replaces --bft-private-key and --bft-public-keys: give one or the other');
    return 'insecure-from-token';
  }
  if (privateKeyFile === undefined || publicKeysFile === undefined) throw new UsageError('--bft-private-key and --bft-public-keys go together');
  return { privateKeyFile, publicKeysFile };
}

/** A duration as etcd's flags write it: 500ms, 5s, 10m, 1h. */
function durationMs(flag: string, v: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(v);
  if (m === null || Number(m[1]) <= 0) throw new UsageError(`--${flag} must be a positive duration such as 500ms, 5s or 10m, got '${v}'`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run one member of an etcd-compatible replicated KV cluster (etcd-style flags)',
  async run(argv) {
    let options: MemberOptions | 'help';
    try {
      options = parseServeFlags(argv);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`${(err as Error).message}\n\n${USAGE()}`);
    }
    if (options === 'help') {
      console.log(USAGE());
      return 0;
    }
    const log = options.logger;
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
      member.node.once('fatal', (err) => { log('error', 'fatal error', { error: err.message }); stop(1); });
    });
  },
};
