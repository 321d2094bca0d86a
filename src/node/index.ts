export * from './config.js';
export * from './node.js';
export { ClientTimestamps, CLIENT_TIMESTAMP_RESERVATION, CLIENT_TIMESTAMPS_FILE } from './client-timestamps.js';
export { RequestTimeout } from '../driver/waiters.js';
