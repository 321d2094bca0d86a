export * from './config.js';
export * from './node.js';
export { RequestTimeout } from '../driver/waiters.js';
