/**
 * A lock or election key its caller gave up on is deleted; when the delete does not commit, the
 * failure is logged (the key goes with its lease), never swallowed and never thrown over the
 * caller's own answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.js';
import { releaseClaim } from '../../src/server/lock-service.js';
import type { ServiceContext } from '../../src/server/service-context.js';

test('a claim whose delete does not commit is logged as a warning, and the call does not throw', async () => {
  const logged: [string, string][] = [];
  const ctx = {
    propose: () => Promise.reject(new QuorateError('TIMEOUT', 'request timed out')),
    logger: (level: string, msg: string) => { logged.push([level, msg]); },
  } as unknown as ServiceContext;
  await releaseClaim(ctx, Buffer.from('lock/abc'));
  assert.equal(logged.length, 1);
  assert.equal(logged[0]![0], 'warn');
  assert.match(logged[0]![1], /not deleted/);
});
