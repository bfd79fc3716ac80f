// What the console's tables show, pushed every dashboardIntervalMs: the
// /status snapshot plus provider sockets with their last success and failure,
// control sessions with their age, streams with their sub-streams and
// callback delivery state, recent errors and the audit log.

import type { Coordinator } from '../../core/runtime.js';
import type { ProviderDetails } from '../unix-transport/index.js';
import type { ControlPlaneDetails } from '../streaming-control/index.js';
import type { StreamDeliveryState } from '../event-callbacks/index.js';
import { collectSnapshot, type Snapshot } from './snapshot.js';
import type { RecentError } from './recent-errors.js';
import type { AuditEntry } from './audit.js';

/** Streams listed with their delivery state; a larger plant shows the first ones and says how many more. */
export const MAX_CONSOLE_STREAMS = 500;

export interface ConsoleState extends Snapshot {
  startedAt: number;
  providerSockets: ProviderDetails[];
  control: ControlPlaneDetails | null;
  streamDelivery: Record<string, StreamDeliveryState | null>;
  streamsNotShown: number;
  recentErrors: RecentError[];
  audit: AuditEntry[];
}

export async function collectConsoleState(runtime: Coordinator, startedAt: number, recentErrors: RecentError[], audit: AuditEntry[]): Promise<ConsoleState> {
  const unix = runtime.optionalService('unix.transport');
  const providerSockets = unix ? await unix.providerDetails() : [];
  const snapshot = await collectSnapshot(runtime, startedAt, providerSockets.map((p) => ({ task: p.task, providers: p.sockets.length })));
  const streaming = runtime.optionalService('streaming.control');
  const callbacks = runtime.optionalService('event-callbacks');
  const control = streaming?.details() ?? null;
  const streamsNotShown = control ? Math.max(0, control.streams.length - MAX_CONSOLE_STREAMS) : 0;
  if (control && streamsNotShown > 0) control.streams = control.streams.slice(0, MAX_CONSOLE_STREAMS);
  const streamDelivery: Record<string, StreamDeliveryState | null> = {};
  if (control && callbacks) {
    const states = await Promise.all(control.streams.map((s) => callbacks.streamState(s.channel, s.streamId)));
    control.streams.forEach((s, i) => { streamDelivery[`${s.channel}/${s.streamId}`] = states[i]!; });
  }
  return {
    ...snapshot,
    startedAt,
    providerSockets,
    control,
    streamDelivery,
    streamsNotShown,
    recentErrors,
    audit,
  };
}
