/**
 * What a member installing a large snapshot in slices says meanwhile (the scenario of
 * test/driver/install-scenario.ts): the leader takes a write and every member ticks between two
 * slices of the install, and the third member is cut off from the leader, so the leader commits
 * only with the installing member's acknowledgements.
 *
 *   node dist/bench/install-talks.js [keys] [slice bytes]      (default 50000 keys, 65536 bytes)
 */
import { installWhileWriting } from '../test/driver/install-scenario.js';

const keys = Number(process.argv[2] ?? 50_000);
const sliceBytes = Number(process.argv[3] ?? 65_536);
const t0 = performance.now();
const r = installWhileWriting({ keys, sliceBytes });
const ms = performance.now() - t0;
const sent = [...r.sentDuringInstall].map(([type, n]) => `${type} ${n}`).join(', ') || 'nothing';
const total = [...r.sentDuringInstall.values()].reduce((a, b) => a + b, 0);
const same = Buffer.from(r.kvs.get('n3')!.snapshot()).equals(Buffer.from(r.kvs.get('n2')!.snapshot()));
console.log(`snapshot of ${keys} keys at index ${r.snapshotIndex}, installed in ${r.steps} slices of ${sliceBytes} bytes`);
console.log(`writes at the leader during the install: ${r.writesDuringInstall}, answered before it ended: ${r.answeredDuringInstall}`);
console.log(`messages the installing member sent during the install: ${total} (${sent})`);
console.log(`leader's commit index during the install (the third member cut off): ${r.leaderCommitAtStart} → ${r.leaderCommitDuring}`);
console.log(`installing member's applied index during the install: ${[...r.positionsDuringInstall].join(', ')}; applied while installing: ${r.watched.appliedWhileInstalling.length}`);
console.log(`after: state equal to the member that never sliced: ${same}; scenario ran in ${ms.toFixed(0)} ms`);
