export * from './frame.js';
export * from './transport.js';
