// npm run example:plugin-package — a plugin published as its own package,
// loaded by name from a config: link it as `npm install ./coordinator-plugin-hello`
// would, print the plugin tree, start the coordinator, call the plugin's task.
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { createClient } from '../../index.js';
import { main } from '../../bin/cli.js';

const here = import.meta.dirname;
const modules = path.join(here, 'node_modules');
if (!existsSync(path.join(modules, 'coordinator-plugin-hello'))) {
  mkdirSync(modules, { recursive: true });
  symlinkSync(path.join(here, 'coordinator-plugin-hello'), path.join(modules, 'coordinator-plugin-hello'), 'dir');
}
const config = path.join(here, 'coordinator.config.json');
await main(['plugins', '--config', config]);
process.env.LOG_FORMAT = 'json';
const running = main(['start', '--config', config, '-l', 'warn']);
await running;
const client = createClient({ socketDir: '/tmp/coordinator-plugin-example', name: 'example-client', coordinatorUrl: 'unix:///tmp/coordinator-plugin-example/coordinator/hello-example.sock' });
await client.start();
console.log('Hello ->', await client.call('Hello', { name: 'plugin author' }));
await client.stop();
process.kill(process.pid, 'SIGTERM');
