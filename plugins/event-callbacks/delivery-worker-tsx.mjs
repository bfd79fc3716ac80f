// The delivery thread when the coordinator runs from its TypeScript sources
// (tsx): Node 20 does not pass the parent's loader on to a worker, so the
// thread registers tsx before it loads delivery-worker.ts. The compiled
// package starts delivery-worker.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./delivery-worker.ts');
