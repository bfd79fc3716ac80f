import { application, throughCallbacks } from './outbox.bench.js';
const app = await application();
for (let i = 0; i < 8; i++) console.log(JSON.stringify(await throughCallbacks('outbox', app.url, [], 4000)));
app.close();
