// The live state shown by /status, the dashboard and `coordinator status`,
// gathered from the plugins' services (whichever are registered).

import type { Coordinator } from '../../core/runtime.js';
import type { UnixTransportService } from '../unix-transport/index.js';
import type { StreamingService } from '../streaming-control/index.js';
import type { EventCallbacksService, EventCallbacksStats } from '../event-callbacks/index.js';
import type { StreamProxyService } from '../stream-proxy/index.js';

export interface Snapshot {
  at: string;
  status: string;
  uptimeSec: number;
  plugins: string[];
  inFlight: number;
  providers: Array<{ task: string; providers: number }>;
  ingestServers: Array<{ id: number; ip: string; port: number; ssl: boolean; serverType: string }>;
  encoders: Array<{ id: number; capacity: number; load: number }>;
  activeStreams: Array<{ channel: string; streamId: string; streamServer: number; encoder: number }>;
  capacity: { load: number; capacity: number; encoderCount: number } | null;
  outbox: EventCallbacksStats | null;
  streamProxy: { open: number; bytes: number; tokens: number } | null;
  /** The cluster plugin's engine, this node and the members it sees. */
  cluster: { engine: string; nodeId: string; fenced: boolean; members: Array<{ node: string; startedAt: number }> } | null;
}

/** `providers`: the per-task counts when the caller already listed the sockets (one directory walk, not two). */
export async function collectSnapshot(runtime: Coordinator, startedAt: number, providers?: Snapshot['providers']): Promise<Snapshot> {
  const has = (name: string) => runtime.hasService(name);
  const unix = has('unix.transport') ? runtime.service('unix.transport') : undefined;
  const streaming = has('streaming.control') ? runtime.service('streaming.control') : undefined;
  const outbox = has('event-callbacks') ? runtime.service('event-callbacks') : undefined;
  const proxy = has('stream.proxy') ? runtime.service('stream.proxy') : undefined;
  const report = streaming?.report();
  return {
    at: new Date().toISOString(),
    status: runtime.status,
    uptimeSec: Math.round((Date.now() - startedAt) / 1000),
    plugins: runtime.pluginNames,
    inFlight: runtime.inFlight,
    providers: providers ?? (unix ? await unix.tasks() : []),
    ingestServers: (report?.streamingServers ?? []) as Snapshot['ingestServers'],
    encoders: (report?.encoders ?? []) as Snapshot['encoders'],
    activeStreams: (report?.activeStreams ?? []) as Snapshot['activeStreams'],
    capacity: streaming?.capacity() ?? null,
    outbox: outbox?.stats() ?? null,
    streamProxy: proxy ? { open: proxy.open, bytes: proxy.bytes, tokens: proxy.size } : null,
    cluster: await clusterOf(runtime),
  };
}

async function clusterOf(runtime: Coordinator): Promise<Snapshot['cluster']> {
  const state = runtime.optionalService('cluster.state');
  if (!state) return null;
  try {
    return { engine: state.engine, nodeId: state.nodeId, fenced: state.fenced, members: await state.members() };
  } catch {
    return null; // not started, or NATS out of reach: the rest of the snapshot still answers
  }
}
