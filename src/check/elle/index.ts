export * from './history.js';
export { ListAppendInputError } from './observe.js';
export * from './check.js';
export * from './explain.js';
export * from './jsonl.js';
