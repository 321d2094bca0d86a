/**
 * `quorate serve`'s options, named and defaulting like etcd's flags. Those marked `etcd` are
 * etcd's: each is also read from etcd's ETCD_* variable and etcd's --config-file key (see
 * ../etcd/), so an etcd deployment works unchanged for the flags quorate has. Adding a flag is
 * one entry here (and its use in serve.ts).
 */
import { PROTOCOLS } from '../../protocols/registry.js';
import type { Options } from '../options/types.js';
import { LOG_LEVEL_CHOICES, MEMBER_OPTIONS, protocolOption } from './shared-options.js';

/** etcd refuses an election timeout above 50 s (its maxElectionMs). */
const MAX_ELECTION_TIMEOUT_MS = 50_000;
/** The election timeout is at least 5 heartbeats, so no heartbeat interval above a fifth of its maximum can work. */
const MAX_HEARTBEAT_INTERVAL_MS = MAX_ELECTION_TIMEOUT_MS / 5;

const keyedProtocols = (): string => [...PROTOCOLS.values()].filter((p) => p.keys === 'per-member').map((p) => p.name).join(', ');

export const SERVE_OPTIONS = {
  'config-file': { type: 'string', placeholder: 'FILE', etcd: true, help: 'etcd\'s YAML configuration file. As with etcd, it replaces the etcd flags and ETCD_* variables (those given are named in a warning); quorate\'s own flags still apply.' },
  name: MEMBER_OPTIONS.name,
  protocol: protocolOption('the consensus protocol under the KV store, the same on every member'),
  'bft-private-key': { type: 'string', placeholder: 'FILE', help: `protocols whose members need keys (${keyedProtocols()}): this member's private keys (\`quorate keys generate\`).` },
  'bft-public-keys': { type: 'string', placeholder: 'FILE', help: 'the same protocols: every member\'s public keys (the same file everywhere).' },
  'bft-insecure-keys-from-token': { type: 'boolean', commandLineOnly: true, help: 'trials only, instead of the two above: every member derives every key from the cluster token (INSECURE: anyone with it can act as any member). Only on the command line (a config file that sets it is refused).' },
  'data-dir': MEMBER_OPTIONS['data-dir'],
  'listen-client-urls': { type: 'string', default: 'http://localhost:2379', placeholder: 'URLS', etcd: true, help: 'comma-separated URLs to serve clients on.' },
  'advertise-client-urls': { type: 'string', placeholder: 'URLS', defaultText: 'the listen client URLs', etcd: true, help: 'what members tell clients.' },
  'listen-peer-urls': { type: 'string', default: 'http://localhost:2380', placeholder: 'URLS', etcd: true, help: 'comma-separated URLs to serve the other members on.' },
  'initial-advertise-peer-urls': MEMBER_OPTIONS['initial-advertise-peer-urls'],
  'initial-cluster': MEMBER_OPTIONS['initial-cluster'],
  'initial-cluster-state': { type: 'string', default: 'new', choices: ['new', 'existing'], etcd: true, help: 'existing: join a running cluster after \'member add\'.' },
  'initial-cluster-token': MEMBER_OPTIONS['initial-cluster-token'],
  'cert-file': { type: 'string', placeholder: 'FILE', etcd: true, configKey: 'client-transport-security.cert-file', help: 'serve clients over TLS with this certificate (with --key-file).' },
  'key-file': { type: 'string', placeholder: 'FILE', etcd: true, configKey: 'client-transport-security.key-file', help: 'the client certificate\'s private key.' },
  'trusted-ca-file': { type: 'string', placeholder: 'FILE', etcd: true, configKey: 'client-transport-security.trusted-ca-file', help: 'CA for client certificates.' },
  'client-cert-auth': { type: 'boolean', etcd: true, configKey: 'client-transport-security.client-cert-auth', help: 'require client certificates signed by the trusted CA.' },
  'peer-cert-file': { type: 'string', placeholder: 'FILE', etcd: true, configKey: 'peer-transport-security.cert-file', help: 'mutual TLS between members (with https:// peer URLs): this member\'s certificate.' },
  'peer-key-file': { type: 'string', placeholder: 'FILE', etcd: true, configKey: 'peer-transport-security.key-file', help: 'the peer certificate\'s private key.' },
  'peer-trusted-ca-file': { type: 'string', placeholder: 'FILE', etcd: true, configKey: 'peer-transport-security.trusted-ca-file', help: 'the CA that signs every member\'s peer certificate.' },
  'peer-cert-member-binding': { type: 'string', default: 'common-name', choices: ['common-name', 'none'], help: 'with peer TLS: common-name, each member\'s peer certificate must have its id as CN: its --name, or for a member added later its member id in 16 lowercase hex digits (a link whose certificate names another member is refused); none, any certificate from the CA may speak for any member (for certificates that cannot carry member names; then use member keys or --peer-secret-file to tell members apart). The same on every member. Refused without peer TLS.' },
  'peer-client-cert-auth': { type: 'boolean', etcd: true, configKey: 'peer-transport-security.client-cert-auth', help: 'accepted for etcd compatibility: peer TLS is always mutual.' },
  'peer-secret-file': { type: 'string', placeholder: 'FILE', help: 'a secret every member shares (at least 16 bytes): each peer connection proves it and every frame on it carries a MAC; without it (or peer TLS) anyone who reaches the peer port can act as a member.' },
  'allow-insecure-key-permissions': { type: 'boolean', help: 'start even if a private key file is readable by group or others (refused otherwise, as ssh does; a warning is logged).' },
  'unsafe-mutant': { type: 'string', placeholder: 'NAME', commandLineOnly: true, help: 'TESTS ONLY: run with a known bug switched on (a mutant of the protocol or the driver, as `quorate sim --list-mutants` lists them), so that a test harness (quorate chaos) can show it catches it. Never in production: it breaks safety. Only on the command line (a config file that sets it is refused).' },
  'snapshot-count': { type: 'integer', min: 1, default: 100_000, etcd: true, help: 'applied entries between snapshots.' },
  'heartbeat-interval': { type: 'integer', min: 1, max: MAX_HEARTBEAT_INTERVAL_MS, default: 100, placeholder: 'MS', etcd: true, help: 'the leader\'s heartbeat interval.' },
  'election-timeout': { type: 'integer', min: 1, max: MAX_ELECTION_TIMEOUT_MS, default: 1000, placeholder: 'MS', etcd: true, help: 'at least 5 times the heartbeat interval.' },
  'max-request-bytes': { type: 'integer', min: 1, default: 1_572_864, etcd: true, help: 'the largest request accepted.' },
  'max-txn-ops': { type: 'integer', min: 1, default: 128, etcd: true, help: 'the most operations in one transaction.' },
  'auth-token-ttl': { type: 'integer', min: 1, default: 300, placeholder: 'SECONDS', etcd: true, help: 'lifetime of auth tokens.' },
  'quota-backend-bytes': { type: 'integer', min: 0, default: 0, etcd: true, help: 'raise the NOSPACE alarm above this db size (0: 2 GiB).' },
  'experimental-corrupt-check-time': { type: 'duration', default: '0s', zero: true, etcd: true, help: 'the leader compares HashKV with every member this often and raises the CORRUPT alarm on a mismatch (0s: off).' },
  'auto-compaction-mode': { type: 'string', default: 'periodic', choices: ['periodic', 'revision'], etcd: true, help: 'how --auto-compaction-retention counts.' },
  'auto-compaction-retention': { type: 'string', default: '0', placeholder: 'R', etcd: true, help: 'periodic: keep this much history (90m, 72h, or hours as a number); revision: keep this many revisions (0: off).' },
  'listen-metrics-urls': { type: 'string', default: '', placeholder: 'URLS', etcd: true, help: 'also serve /health and /metrics here (http:// only; they are on the client URLs too unless clients use TLS).' },
  'log-level': { type: 'string', default: 'info', choices: LOG_LEVEL_CHOICES, placeholder: 'LEVEL', etcd: true, help: 'the least severe level logged (etcd\'s dpanic, panic and fatal log errors only).' },
  'experimental-watch-progress-notify-interval': { type: 'duration', default: '10m', etcd: true, help: 'idle watchers that asked for progress get one this often.' },
} as const satisfies Options;
