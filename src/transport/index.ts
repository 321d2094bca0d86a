export * from './frame.js';
export * from './transport.js';
export * from './join.js';
