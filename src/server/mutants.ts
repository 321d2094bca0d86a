/**
 * Test-only bugs of the server, switched on with `serve --unsafe-mutant NAME` so that a harness
 * that runs real processes (quorate chaos) can show it catches them. A name here wins over a
 * protocol's or the driver's mutant of the same name (those are the simulator's).
 */
export const SERVER_MUTANTS = [
  { name: 'stale-read', description: 'serves linearizable reads from the member\'s own state, without a read barrier: a member cut off from the leader answers with what it last applied' },
] as const;

export type ServerMutant = (typeof SERVER_MUTANTS)[number]['name'];

export function isServerMutant(name: string): name is ServerMutant {
  return SERVER_MUTANTS.some((m) => m.name === name);
}
