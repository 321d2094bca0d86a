/**
 * Deliberately broken variants of the shipped state machines, switched on only through their
 * options (test-only). The simulator must catch each on its own: its clients now and then order
 * bytes that are no command, as a faulty member or a Byzantine replica's client can.
 */
import type { MutantInfo } from '../core/replica.js';

export const STATE_MACHINE_MUTANTS = [
  { name: 'trust-command-bytes', description: 'the register state machine decodes a committed command without checking it: bytes that are no command throw inside apply, and every member that applies the entry stops, and stops again at each restart' },
  { name: 'global-sessions', description: 'the register state machine keys client sessions by the client number the command carries, ignoring the member whose authenticated client ordered it (origin): under a Byzantine protocol a liar orders a command with an honest client\'s number and next sequence number, and that client\'s next command is answered with the liar\'s result and never executed' },
  { name: 'snapshot-sees-later-writes', description: 'the etcd state machine\'s snapshot, encoded in slices while later entries apply, keeps the versions written after it began: a member that restores it (a restart, a snapshot from the leader) applies those writes again from its log, and its revisions and versions run ahead of the others\'' },
  { name: 'trust-command-user', description: 'the etcd state machine takes the user a command names at the ordering member\'s word, without a login proved through that member: under a Byzantine protocol with auth enabled a liar orders writes as root' },
  { name: 'trust-login-use', description: 'the etcd state machine binds the member that orders an auth-login-use to the user\'s open session without checking the binding\'s signature (made with the session seed a token carries): under a Byzantine protocol with auth enabled a liar never shown a token acts as any user that logged in anywhere, root included' },
  { name: 'alarm-on-one-word', description: 'the etcd state machine raises and clears an alarm on the ordering member\'s word alone, not as one of f + 1 members\' votes: under a Byzantine protocol one liar raises CORRUPT (or NOSPACE) and every write is refused cluster-wide, or clears an alarm honest members raised' },
] as const satisfies readonly MutantInfo[];

export type StateMachineMutant = (typeof STATE_MACHINE_MUTANTS)[number]['name'];
