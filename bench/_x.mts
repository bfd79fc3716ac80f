import { runBurstOnly } from './publish.bench.js';
await runBurstOnly();
