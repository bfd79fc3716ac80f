// Call a task through a running coordinator over its unix socket and print
// the result (or the stream's bytes). Exit 1 on an error response.
//   npm run example:call -- CPUInfo '{"guest_id":"g1"}'
import { createClient, readUnixStream } from '../../index.js';

const [task = 'SystemStatus', argsText = '{"guest_id":"g1"}'] = process.argv.slice(2);
const socketDir = process.env.SOCKET_DIR ?? '/tmp/cerana';
const coordinator = process.env.COORDINATOR_NAME ?? 'coordinator';

const client = createClient({ socketDir, name: `example-call-${process.pid}`, coordinatorUrl: `unix://${socketDir}/coordinator/${coordinator}.sock`, requestTimeoutMs: 30_000 });
await client.start();
const response = await client.send(task, JSON.parse(argsText));
await client.stop();
if (response.error) {
  console.error(`error: ${response.error}`);
  process.exit(1);
}
if (response.streamURL) {
  for await (const chunk of readUnixStream(response.streamURL)) process.stdout.write(chunk);
  process.stdout.write('\n');
} else {
  console.log(JSON.stringify(response.result));
}
