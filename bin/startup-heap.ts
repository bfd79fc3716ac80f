// bin/coordinator.js holds V8's young generation at its first size while the
// modules load and the coordinator starts (startup garbage would otherwise
// grow it for good, ~5 MiB of idle RSS). Once ready, it may grow again
// under load as usual (V8's default growth factor, 2), so the hot paths
// scavenge no more often than in any Node process.
import v8 from 'node:v8';

export function startupDone(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=2');
}
