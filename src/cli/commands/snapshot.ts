/** `quorate snapshot restore FILE --data-dir DIR --name NAME --initial-cluster ...` */
import { parseArgs } from 'node:util';
import { restoreSnapshot } from '../../server/snapshot-restore.js';
import { DEFAULT_PROTOCOL, PROTOCOLS, protocolNames } from '../../protocols/registry.js';
import { UsageError, type Command } from '../command.js';

const USAGE = () => `usage: quorate snapshot restore FILE [flags]

Builds a member's data directory from a snapshot saved with 'etcdctl snapshot save', as a member
of a new cluster. Restore every member from the same file with the same --initial-cluster and
--initial-cluster-token, then start each with 'quorate serve' (--initial-cluster-state new).

  --protocol ${protocolNames()}  the protocol the new cluster runs (default ${DEFAULT_PROTOCOL})
  --data-dir DIR                       the new data directory (must not exist; default "NAME.etcd")
  --name NAME                          this member's name (default "default")
  --initial-cluster NAME=URL,...       every member of the new cluster (default NAME=initial-advertise-peer-urls)
  --initial-cluster-token TOKEN        (default "etcd-cluster")
  --initial-advertise-peer-urls URLS   this member's peer URLs (default http://localhost:2380)`;

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'snapshot restore FILE: build a data directory from a saved snapshot',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        'data-dir': { type: 'string' },
        protocol: { type: 'string', default: DEFAULT_PROTOCOL },
        name: { type: 'string', default: 'default' },
        'initial-cluster': { type: 'string' },
        'initial-cluster-token': { type: 'string', default: 'etcd-cluster' },
        'initial-advertise-peer-urls': { type: 'string', default: 'http://localhost:2380' },
      },
    });
    if (values.help === true) {
      console.log(USAGE());
      return 0;
    }
    const [sub, file] = positionals;
    if (sub !== 'restore' || file === undefined || positionals.length !== 2) throw new UsageError(USAGE());
    if (!PROTOCOLS.has(values.protocol)) throw new UsageError(`--protocol must be one of ${protocolNames(', ')}, got '${values.protocol}'`);
    const peerUrls = values['initial-advertise-peer-urls'].split(',').map((s) => s.trim()).filter((s) => s !== '');
    const name = values.name;
    try {
      const { revision, identity } = await restoreSnapshot({
        snapshotFile: file,
        protocol: values.protocol,
        dataDir: values['data-dir'] ?? `${name}.etcd`,
        name,
        initialCluster: values['initial-cluster'] ?? peerUrls.map((u) => `${name}=${u}`).join(','),
        initialClusterToken: values['initial-cluster-token'],
        initialAdvertisePeerUrls: peerUrls,
      });
      console.log(`restored snapshot (revision ${revision}) into ${values['data-dir'] ?? `${name}.etcd`} as member ${name} of cluster ${BigInt(identity.clusterId).toString(16)}`);
      return 0;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  },
};
