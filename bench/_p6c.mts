import { throughCallbacks } from './outbox.bench.js';
for (let i = 0; i < 5; i++) console.log(JSON.stringify(await throughCallbacks('outbox, no url', '', [], 4000)));
