import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  byzantineFaults, byzantineQuorum, committedIndex, index, jointCommittedIndex, jointVoteResult,
  majority, nodeIds, quorumsIntersect, voteResult, type Index, type NodeId,
} from '../../src/core/index.js';

const set = (...n: string[]) => new Set(nodeIds(...n));
const votes = (o: Record<string, boolean>) => new Map(Object.entries(o) as [NodeId, boolean][]);
const match = (o: Record<string, number>) => new Map(Object.entries(o).map(([k, v]) => [k as NodeId, index(v) as Index]));

test('majority is more than half', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4]);
});

test('a vote is won by a majority, lost when a majority can no longer be reached', () => {
  const v = set('a', 'b', 'c');
  assert.equal(voteResult(v, votes({ a: true })), 'pending');
  assert.equal(voteResult(v, votes({ a: true, b: true })), 'won');
  assert.equal(voteResult(v, votes({ a: true, b: false })), 'pending');
  assert.equal(voteResult(v, votes({ a: true, b: false, c: false })), 'lost');
  assert.equal(voteResult(v, votes({ d: true, e: true })), 'pending', 'non-voters do not count');
});

test('joint vote needs both majorities: neither C_old nor C_new alone decides', () => {
  const cnew = set('c', 'd', 'e');
  const cold = set('a', 'b', 'c');
  assert.equal(jointVoteResult(cnew, cold, votes({ a: true, b: true, c: true })), 'pending');
  assert.equal(jointVoteResult(cnew, cold, votes({ c: true, d: true, e: true })), 'pending');
  assert.equal(jointVoteResult(cnew, cold, votes({ a: true, c: true, d: true })), 'won');
  assert.equal(jointVoteResult(cnew, cold, votes({ d: false, e: false, a: true, b: true })), 'lost');
});

test('committed index is the highest index stored on a majority', () => {
  assert.equal(committedIndex(set('a', 'b', 'c'), match({ a: 5, b: 3, c: 1 })), 3);
  assert.equal(committedIndex(set('a', 'b', 'c', 'd'), match({ a: 5, b: 3, c: 1, d: 4 })), 3);
  assert.equal(committedIndex(set('a', 'b', 'c'), match({ a: 9 })), 0);
  assert.equal(jointCommittedIndex(set('a', 'b', 'c'), set('c', 'd', 'e'), match({ a: 9, b: 9, c: 9, d: 2, e: 1 })), 2);
  assert.equal(jointCommittedIndex(set('a', 'b', 'c'), new Set(), match({ a: 9, b: 9, c: 2 })), 9);
});

test('byzantine quorums of 3f+1 replicas are 2f+1 and intersect in an honest replica', () => {
  for (const f of [1, 2, 3]) {
    const n = 3 * f + 1;
    assert.equal(byzantineFaults(n), f);
    assert.equal(byzantineQuorum(n), 2 * f + 1);
  }
  for (let n = 1; n <= 20; n++) {
    const q = byzantineQuorum(n);
    assert.ok(2 * q - n >= byzantineFaults(n) + 1, `n=${n}: two quorums share an honest replica`);
  }
});

test('flexible quorums must intersect', () => {
  assert.equal(quorumsIntersect(5, 4, 2), true);
  assert.equal(quorumsIntersect(5, 3, 2), false);
  assert.equal(quorumsIntersect(5, 6, 1), false);
});
