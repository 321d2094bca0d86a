/** `quorate snapshot restore FILE --data-dir DIR --name NAME --initial-cluster ...` */
import { restoreSnapshot } from '../../server/snapshot-restore.js';
import { defineCommand, UsageError } from '../command.js';
import { list, MEMBER_OPTIONS, protocolOption, subcommand } from './shared-options.js';

export const snapshotCommand = defineCommand({
  name: 'snapshot',
  summary: 'snapshot restore FILE: build a data directory from a saved snapshot',
  usage: ['restore FILE [options]'],
  description: 'Builds a member\'s data directory from a snapshot saved with \'etcdctl snapshot save\', as a member of a new cluster. Restore every member from the same file with the same --initial-cluster and --initial-cluster-token, then start each with \'quorate serve\' (--initial-cluster-state new).',
  options: {
    protocol: protocolOption('the protocol the new cluster runs'),
    ...MEMBER_OPTIONS,
    'data-dir': { ...MEMBER_OPTIONS['data-dir'], help: 'the new data directory; it must not exist.' },
    'initial-advertise-peer-urls': { ...MEMBER_OPTIONS['initial-advertise-peer-urls'], default: 'http://localhost:2380', defaultText: undefined },
  },
  positionals: { words: ['restore'] },
  exitCodes: [
    [0, 'the data directory was written'],
    [3, 'bad input: an option, an unreadable snapshot, a data directory that exists'],
  ],
  async run({ values, positionals }) {
    const [file] = subcommand(positionals, 'restore', 1, '\'restore FILE\'');
    const peerUrls = list(values['initial-advertise-peer-urls']);
    const name = values.name;
    const dataDir = values['data-dir'] ?? `${name}.etcd`;
    try {
      const { revision, identity } = await restoreSnapshot({
        snapshotFile: file!,
        protocol: values.protocol,
        dataDir,
        name,
        initialCluster: values['initial-cluster'] ?? peerUrls.map((u) => `${name}=${u}`).join(','),
        initialClusterToken: values['initial-cluster-token'],
        initialAdvertisePeerUrls: peerUrls,
      });
      console.log(`restored snapshot (revision ${revision}) into ${dataDir} as member ${name} of cluster ${BigInt(identity.clusterId).toString(16)}`);
      return 0;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  },
});
