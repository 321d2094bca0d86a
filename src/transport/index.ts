export * from './frame.js';
export * from './transport.js';
export * from './join.js';
export { peerSecretFromFile, MIN_PEER_SECRET_BYTES } from './peer-secret.js';
export * from './peer-identity.js';
