/** `quorate keys generate --names m1,m2,m3,m4 --out DIR`: each member's own keys, for protocols that need them. */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { BftKeyError, generateKeyFiles, type GeneratedKeyFiles } from '../../node/bft-keys.js';
import { UsageError, type Command } from '../command.js';
import { PROTOCOLS } from '../../protocols/registry.js';

/** The protocols whose members need keys, as a --protocol value ("a|b"). */
const keyedProtocols = (): string => [...PROTOCOLS.values()].filter((p) => p.keys === 'per-member').map((p) => p.name).join('|');

const USAGE = () => `usage: quorate keys generate --names m1,m2,m3,m4 --out DIR

Writes fresh keys for the members of a cluster whose protocol needs them (${keyedProtocols()}; names as in --initial-cluster):
  DIR/NAME.key           one per member: its private Ed25519 (signing) and X25519 (MAC key agreement)
                         keys, mode 0600. Give it to that member only: whoever holds it can act as it.
  DIR/public-keys.json   every member's public keys: give the same file to every member.
Then start each member with
  quorate serve --protocol ${keyedProtocols()} --name NAME --bft-private-key NAME.key --bft-public-keys public-keys.json ...
Existing files are never overwritten. Exit: 0 when written, 3 for bad flags or an existing file.`;

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

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

export const keysCommand: Command = {
  name: 'keys',
  summary: 'keys generate --names m1,m2,... --out DIR: each member\'s own signing and MAC keys (Byzantine protocols)',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        names: { type: 'string' },
        out: { type: 'string' },
      },
    });
    if (values.help === true) {
      console.log(USAGE());
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== 'generate') throw new UsageError(USAGE());
    if (values.names === undefined || values.out === undefined) throw new UsageError(`--names and --out are required\n\n${USAGE()}`);
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
};
