/**
 * The driver times an apply only for an applyBatch listener (f957556: the simulator has none).
 * Whether one listens is read before the apply; the listener is called after it, and the events
 * object is the caller's: one that lets its applyBatch go during the apply (a one-shot metric
 * unhooked by appliedEntries or by the state machine) must not turn the apply's end into a
 * TypeError, as calling it unchecked did (before f957556 it was called only if still there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DriverEvents } from '../../src/driver/driver.js';
import { protocolByName } from '../../src/protocols/registry.js';
import { RegisterKv, encodeCommand, type RegisterResult } from '../../src/statemachine/register-kv.js';
import { Answer, QUIET_LEADER_OPTIONS, TestCluster } from './harness.js';

test('an applyBatch listener unhooked during the apply (by appliedEntries) is not called, and nothing throws', () => {
  const timed: number[] = [];
  const c = new TestCluster<RegisterResult>(['n1', 'n2', 'n3'], {
    protocol: protocolByName('raft'),
    protocolOptions: QUIET_LEADER_OPTIONS,
    stateMachine: () => new RegisterKv(),
    events: () => {
      const events: { -readonly [K in keyof DriverEvents<RegisterResult>]: DriverEvents<RegisterResult>[K] } = {
        applyBatch: (_s, n) => timed.push(n),
        // A one-shot listener: gone once something was applied.
        appliedEntries: () => { delete events.applyBatch; },
      };
      return events;
    },
  });
  c.elect('n1');
  const write = new Answer<RegisterResult>();
  c.driver('n1').propose(encodeCommand({ client: 1, seq: 1, op: { f: 'put', key: 'k', value: 1 } }), write.reply);
  c.tick(3);
  assert.equal(write.answered, true, 'the write is answered');
  for (const id of ['n1', 'n2', 'n3']) assert.equal(c.driver(id).running, true, `${id} runs`);
  assert.deepEqual(timed, [], 'a listener gone before the apply ended is not called');
});
