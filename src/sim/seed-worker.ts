/**
 * A worker thread of the seed pool (seed-pool.ts): runs one seed per message and posts its result,
 * or the error its run threw, back.
 */
import { parentPort } from 'node:worker_threads';
import { QuorateError } from '../core/errors.js';
import { runOne, type WorkerReply, type WorkerTask } from './seed-pool.js';

const port = parentPort;
if (port === null) throw new Error('seed-worker runs as a worker thread of the seed pool');

port.on('message', (task: WorkerTask) => {
  let reply: WorkerReply;
  try {
    reply = { kind: 'result', seed: task.seed, result: runOne(task) };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    reply = { kind: 'error', seed: task.seed, message: e.message, code: err instanceof QuorateError ? err.code : null, stack: e.stack ?? e.message };
  }
  port.postMessage(reply);
});
