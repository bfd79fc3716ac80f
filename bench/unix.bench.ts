// Requests through the coordinator to a provider over unix sockets vs the same
// client talking to the provider directly, in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { createClient, createCoordinator, createProvider, unixTransport } from './subject.js';
import { compare, measure } from './support.js';

export async function run(): Promise<void> {
  const dir = mkdtempSync('/tmp/cb-');
  const runtime = createCoordinator({ socketDir: dir, serviceName: 'bench', logLevel: 'silent', plugins: [unixTransport()] });
  await runtime.start();
  const provider = createProvider({ socketDir: dir, name: 'p', tasks: { Echo: (args: unknown) => args } });
  await provider.start();
  const viaCoordinator = createClient({ socketDir: dir, name: 'via', coordinatorUrl: `unix://${dir}/coordinator/bench.sock` });
  const direct = createClient({ socketDir: dir, name: 'direct', coordinatorUrl: `unix://${provider.sockets.Echo}` });
  await viaCoordinator.start();
  await direct.start();
  const args = { guest_id: 'g1', n: 42 };
  try {
    for (const concurrency of [1, 16]) {
      await compare(
        `unix request/response, ${concurrency} in flight`,
        () => measure('client -> provider (direct)', () => direct.call('Echo', args), 3000, concurrency),
        () => measure('client -> coordinator -> provider', () => viaCoordinator.call('Echo', args), 3000, concurrency),
      );
    }
  } finally {
    await viaCoordinator.stop();
    await direct.stop();
    await provider.stop();
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
