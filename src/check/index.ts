export * from './history.js';
export * from './linearizability.js';
export * from './formats.js';
export * from './elle/index.js';
