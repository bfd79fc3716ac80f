import { Agent } from 'undici';
import { application, directPosts, throughCallbacks } from './outbox.bench.js';
const app = await application();
const agent = new Agent({ connections: 8, keepAliveTimeout: 10_000 });
for (let i = 0; i < 3; i++) {
  console.log(JSON.stringify(await directPosts(app.url, agent, 4000)));
  console.log(JSON.stringify(await throughCallbacks('outbox', app.url, [], 4000)));
}
await agent.close(); app.close();
