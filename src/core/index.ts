export * from './ids.js';
export * from './assert.js';
export * from './errors.js';
export * from './prng.js';
export * from './quorum.js';
export * from './replica.js';
export * from './authenticator.js';
export * from './protocol.js';
