// The acomm client SDK against a real provider over unix sockets: responses
// matched to their calls by id, timeouts, and stop() answering what waits.
import assert from 'node:assert/strict';
import { createClient, createProvider } from '../../index.js';
import { tempSocketDir } from '../support/sockets.js';
import { delay } from '../support/runtime.js';

describe('client SDK (real unix sockets)', () => {
  it('matches many concurrent responses to their calls, times out a silent one, and answers what still waits at stop()', async () => {
    const sockets = tempSocketDir();
    const provider = createProvider({
      socketDir: sockets.dir,
      name: 'p',
      tasks: { Echo: async (args: { n: number }) => { await delay(args.n % 7); return args.n; }, Never: () => new Promise(() => undefined) },
    });
    await provider.start();
    // Straight to the provider's socket (no coordinator): the provider answers on the client's response socket.
    const client = createClient({ socketDir: sockets.dir, name: 'c', coordinatorUrl: `unix://${provider.sockets.Echo}` });
    const never = createClient({ socketDir: sockets.dir, name: 'n', coordinatorUrl: `unix://${provider.sockets.Never}` });
    await client.start();
    await never.start();
    try {
      const results = await Promise.all(Array.from({ length: 100 }, (_, n) => client.call<number>('Echo', { n })));
      assert.deepEqual(results, Array.from({ length: 100 }, (_, n) => n));
      const timedOut = await never.send('Never', null, { timeoutMs: 50 });
      assert.equal(timedOut.errorCode, 'ERR_TIMEOUT');
      const waiting = [never.send('Never'), never.send('Never')];
      await delay(50);
      await never.stop();
      for (const response of await Promise.all(waiting)) {
        assert.equal(response.errorCode, 'ERR_SHUTTING_DOWN');
        assert.equal(response.error, 'client stopping');
      }
    } finally {
      await client.stop();
      await never.stop();
      await provider.stop(100);
      sockets.cleanup();
    }
  });
});
