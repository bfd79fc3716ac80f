import { application, throughCallbacks } from './outbox.bench.js';
const app = await application();
for (let i = 0; i < 6; i++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const r = await throughCallbacks('outbox', app.url, [], 4000);
  const c = process.cpuUsage(c0); const wall = performance.now() - t0;
  console.log(Math.round(r.opsPerSec), 'cpu µs/event', ((c.user + c.system) / 4000).toFixed(1), 'cpu/wall', ((c.user + c.system) / 1000 / wall).toFixed(2));
}
app.close();
