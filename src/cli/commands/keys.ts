/** `quorate keys generate --names m1,m2,m3,m4 --out DIR`: each member's own keys, for protocols that need them. */
import { basename } from 'node:path';
import { BftKeyError, generateKeyFiles, type GeneratedKeyFiles } from '../../node/bft-keys.js';
import { defineCommand, UsageError } from '../command.js';
import { list, subcommand } from './shared-options.js';
import { PROTOCOLS } from '../../protocols/registry.js';

/** The protocols whose members need keys, as a --protocol value ("a|b"). */
const keyedProtocols = (): string => [...PROTOCOLS.values()].filter((p) => p.keys === 'per-member').map((p) => p.name).join('|');

/** What was written and where each file goes, for the operator to distribute. */
export function describeKeyFiles(files: GeneratedKeyFiles): string {
  const pub = basename(files.publicKeysFile);
  return [
    `wrote ${files.publicKeysFile}: every member's public keys; give it to every member`,
    ...files.privateKeyFiles.map((p) => `wrote ${p.file}: private keys of ${p.name}; give it to ${p.name} only`),
    '',
    'start each member with:',
    ...files.privateKeyFiles.map((p) => `  ${p.name}: quorate serve --protocol ${keyedProtocols()} --name ${p.name} --bft-private-key ${basename(p.file)} --bft-public-keys ${pub} ...`),
  ].join('\n');
}

export const keysCommand = defineCommand({
  name: 'keys',
  summary: 'keys generate --names m1,m2,... --out DIR: each member\'s own signing and MAC keys (Byzantine protocols)',
  usage: ['generate --names m1,m2,m3,m4 --out DIR'],
  description: `Writes fresh keys for the members of a cluster whose protocol needs them (${keyedProtocols()}):
  DIR/NAME.key: one per member, its private Ed25519 (signing) and X25519 (MAC key agreement) keys, mode 0600. Give it to that member only: whoever holds it can act as it.
  DIR/public-keys.json: every member's public keys; give the same file to every member.
Then start each member with --bft-private-key NAME.key --bft-public-keys public-keys.json. Existing files are never overwritten.`,
  options: {
    names: { type: 'string', placeholder: 'NAME,...', help: 'the members, as named in --initial-cluster (required).' },
    out: { type: 'string', placeholder: 'DIR', help: 'where to write the key files (required).' },
  },
  positionals: { words: ['generate'] },
  exitCodes: [
    [0, 'the keys were written'],
    [3, 'bad input: an option, a bad member name, a file that already exists or cannot be written'],
  ],
  async run({ values, positionals }) {
    subcommand(positionals, 'generate', 0, '\'generate\'');
    if (values.names === undefined || values.out === undefined) throw new UsageError('--names and --out are required');
    try {
      console.log(describeKeyFiles(await generateKeyFiles(values.out, list(values.names))));
      return 0;
    } catch (err) {
      if (err instanceof BftKeyError) throw new UsageError(err.message);
      // An unwritable or odd --out (permissions, a file in the way) is bad input, not a crash.
      if (typeof (err as NodeJS.ErrnoException).code === 'string') throw new UsageError(`cannot write keys into ${values.out}: ${(err as Error).message}`);
      throw err;
    }
  },
});
