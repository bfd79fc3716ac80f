// A TypeScript provider offering the same tasks as the original "simple"
// example provider. Run it next to `npm start`:
//
//   npm start                              # terminal 1: the coordinator
//   npm run example:provider               # terminal 2: this provider
//   npm run example:call -- SystemStatus '{"guest_id":"g1"}'
//
// SOCKET_DIR (default /tmp/cerana) and COORDINATOR_NAME (default coordinator)
// must match the coordinator's socketDir and serviceName.
import { createProvider } from '../../index.js';

const socketDir = process.env.SOCKET_DIR ?? '/tmp/cerana';
const coordinator = process.env.COORDINATOR_NAME ?? 'coordinator';

interface GuestArgs { guest_id?: string }

function requireGuest(args: GuestArgs | null): string {
  if (!args?.guest_id) throw new Error('missing guest_id');
  return args.guest_id;
}

const provider = createProvider({
  socketDir,
  name: 'provider-simple',
  coordinatorUrl: `unix://${socketDir}/coordinator/${coordinator}.sock`,
  tasks: {
    CPUInfo: (args: GuestArgs | null) => {
      requireGuest(args);
      return [{ processor: 0, mhz: 2600 }, { processor: 1, mhz: 2600 }];
    },
    DiskInfo: (args: GuestArgs | null) => {
      requireGuest(args);
      return [{ Device: 'vda1', Size: 10737418240 }];
    },
    // Fans out to CPUInfo and DiskInfo through the coordinator; a failed member becomes null.
    SystemStatus: async (args: GuestArgs | null, ctx) => {
      const guest_id = requireGuest(args);
      const parts = await ctx.fanOut({ cpus: { task: 'CPUInfo', args: { guest_id } }, disks: { task: 'DiskInfo', args: { guest_id } } });
      return { cpus: parts.cpus!.error ? null : parts.cpus!.result, disks: parts.disks!.error ? null : parts.disks!.result };
    },
    // The args come back as a stream on a one-shot unix socket.
    StreamEcho: (args: unknown) => ({ stream: JSON.stringify(args ?? null) }),
    DelayedResp: async (args: { delay?: number } | null) => {
      const delay = args?.delay ?? 0;
      if (!Number.isInteger(delay) || delay <= 0) throw new Error('delay must be positive');
      const receivedAt = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, delay * 1000));
      return { delay, received_at: receivedAt, responded_at: new Date().toISOString() };
    },
  },
});

await provider.start();
console.log(`provider-simple listening: ${Object.values(provider.sockets).join(', ')}`);
const stop = async () => {
  await provider.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
