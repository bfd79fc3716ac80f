// What the benchmarks measure: the compiled package (dist/, which bench/run.ts
// builds before it loads any benchmark), as users install, embed and run it.
// Not the TypeScript sources through tsx: tsx compiles with esbuild's
// keepNames, which wraps every function it creates (each closure made per
// request included) in a call that names it. The shipped build makes no such
// call; on the relay path that wrapping alone cost ~7 % of throughput.
// Baselines that use one of our clients (smallPost, LazyAgent) take it from
// here too, so both sides run the same compiled code.
export * from '../dist/index.js';
export { LazyAgent } from '../dist/plugins/shared/lazy-agent.js';
export { smallPost } from '../dist/plugins/shared/small-post.js';
export { DeadlineSignals } from '../dist/plugins/shared/deadline-signals.js';
export { NatsClusterState } from '../dist/plugins/cluster/nats.js';
export { ControlPeer, mintToken } from '../dist/testing/control-peer.js';
