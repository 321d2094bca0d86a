// Public API of the quorate package. Each area exports its own entry points as it lands.
export * from './core/index.js';
