/**
 * toldMembership: a join answer's configuration carries, as `since`, the index that configuration
 * holds at: the answering member's applied index, or its configuration's own since when that is
 * later (a member that joined and has not applied up to its since, a state machine still
 * installing a snapshot). Told the lower applied index, a joiner applies again the configuration
 * entries in between (join-from-joiner.txt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Index, NodeId } from '../../src/core/ids.js';
import { toldMembership, type Membership } from '../../src/core/replica.js';

const voters = ['n1', 'n2', 'n3'] as NodeId[];
const at = (m: Membership, applied: number) => toldMembership({ membership: m, appliedIndex: applied as Index });

test('the configuration of the applied index is told with that index', () => {
  assert.deepEqual(at({ voters, outgoingVoters: [], learners: [] }, 7), { voters, outgoingVoters: [], learners: [], since: 7 });
});

test('a configuration that holds at a later index than the applied one is told with that later index', () => {
  assert.equal(at({ voters, outgoingVoters: [], learners: [], since: 9 }, 0).since, 9);
  assert.equal(at({ voters, outgoingVoters: [], learners: [], since: 9 }, 12).since, 12);
});
