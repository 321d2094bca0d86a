/** `quorate help TOPIC` beyond the commands' own help. */
import { DEFAULT_PROTOCOL, PROTOCOLS } from '../protocols/registry.js';

/** Every protocol the registry has, with what it is and what it tolerates. */
export function protocolsHelp(): string {
  const width = Math.max(...[...PROTOCOLS.keys()].map((n) => n.length));
  return [
    'protocols (`--protocol NAME` for serve, dev, sim and snapshot restore):',
    ...[...PROTOCOLS.values()].map((p) => `  ${p.name.padEnd(width)}  ${p.summary}; tolerates ${p.faultModel === 'byzantine' ? 'lying (Byzantine) members' : 'crashes'}${p.keys === 'per-member' ? '; members need keys (`quorate keys generate`)' : ''}${p.name === DEFAULT_PROTOCOL ? ' (default)' : ''}`),
  ].join('\n');
}

export const HELP_TOPICS = ['protocols'] as const;
