// The fake control-channel peers live in the test kit (coordinator-runtime/testing).
export * from '../../testing/control-peer.js';
