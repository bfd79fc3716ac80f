// Shows the rate-limit plugin at work. Run: npx tsx examples/custom-plugin/main.ts
import { createCoordinator, inProcessProvider } from '../../index.js';
import { rateLimit } from './rate-limit.js';

const runtime = createCoordinator({ logLevel: 'silent', plugins: [] })
  .use(rateLimit({ perSecond: 1, burst: 3 }))
  .use(inProcessProvider({ tasks: { Ping: () => 'pong' } }));

await runtime.start();
for (let i = 1; i <= 5; i += 1) {
  const response = await runtime.inject({ task: 'Ping' });
  console.log(`request ${i}:`, response.error ? `${response.errorCode} ${response.error}` : response.result);
}
await runtime.stop();
