// Cluster: the state several coordinators share (see docs/scale-out.md).
// engine 'embedded' (default): one process, in memory, no dependency.
// engine 'nats': NATS JetStream key-value buckets; the client packages are
// optional peer dependencies, loaded only then. Provides 'cluster.state'.
//
// streaming-control claims its channels and shares its encoders through it;
// event-callbacks keeps its queue in the engine's event log (nats) or in its
// own SQLite outbox (embedded).

import { hostname } from 'node:os';
import { definePlugin } from '../../core/plugin.js';
import type { Env } from '../shared/env.js';
import { EmbeddedClusterState } from './embedded.js';
import { TaskRegistry } from './task-registry.js';
import type { ClusterState } from './types.js';

export type { ChannelClaim, ClusterState, EncoderRecord, EventLog, EventLogStats, LoggedEvent, LoggedEventType, Member, TaskPeer } from './types.js';

export const PLUGIN_NAME = 'cluster';
export const CLUSTER_SERVICE = 'cluster.state';

export interface ClusterOptions {
  /** 'embedded' (one process) or 'nats' (NATS JetStream). */
  engine: 'embedded' | 'nats';
  /** NATS servers (NATS_URL, comma-separated). */
  servers: string[];
  /** This node's id in the cluster (COORDINATOR_NODE_ID); default <hostname>-<pid>. */
  nodeId: string;
  /** Prefix of the JetStream buckets, so that several clusters can share one NATS. */
  prefix: string;
  /** How often a node writes its heartbeat, ms. */
  heartbeatMs: number;
  /** A node whose heartbeat is older than this (by the server's clock) is dead, ms. */
  deadAfterMs: number;
  /** NATS connection options passed through (user, pass, token, tls…). */
  connection: Record<string, unknown>;
  /** Replicas of every bucket and stream the cluster creates (3 on a production NATS cluster of 3). */
  replicas: number;
  /** Callbacks, and the guard of a finished stream, are kept in JetStream this long, ms. */
  eventRetentionMs: number;
  /** Advertise the acomm tasks this node's providers serve, and forward requests for tasks served only elsewhere (needs unix-transport and http-ingress). */
  shareTasks: boolean;
  /** Where other coordinators reach this one's HTTP ingress (COORDINATOR_ADVERTISE_URL); default the HTTP server's own URL. */
  advertiseUrl: string;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    engine: { description: "'embedded' (one process, in memory) or 'nats' (NATS JetStream).", enum: ['embedded', 'nats'], default: 'embedded' },
    servers: { description: "NATS servers (NATS_URL, comma-separated).", type: 'array', items: { type: 'string', pattern: '^(nats|tls|ws|wss)://' }, minItems: 1, default: ['nats://127.0.0.1:4222'] },
    nodeId: { description: "This node's id in the cluster (COORDINATOR_NODE_ID): letters, digits, '_' and '-'; default <hostname>-<pid>.", type: 'string', pattern: '^[A-Za-z0-9_-]{0,64}$', default: '' },
    prefix: { description: "Prefix of the JetStream buckets, so that several clusters can share one NATS.", type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$', default: 'coordinator' },
    heartbeatMs: { description: "How often a node writes its heartbeat, ms.", type: 'integer', minimum: 50, maximum: 60_000, default: 1000 },
    deadAfterMs: { description: "A node whose heartbeat is older than this (by the server's clock) is dead, ms; several heartbeats.", type: 'integer', minimum: 200, maximum: 600_000, default: 4000 },
    connection: { description: "NATS connection options passed through (user, pass, token, tls…).", type: 'object', default: {} },
    replicas: { description: "Replicas of every bucket and stream the cluster creates (3 on a production NATS cluster of 3 servers).", type: 'integer', minimum: 1, maximum: 5, default: 1 },
    shareTasks: { description: "Advertise the acomm tasks this node's providers serve, and forward requests for tasks served only on other coordinators (needs unix-transport and http-ingress).", type: 'boolean', default: true },
    advertiseUrl: { description: "Where other coordinators reach this one's HTTP ingress (COORDINATOR_ADVERTISE_URL); default the HTTP server's own URL (set it when listening on every interface).", type: 'string', pattern: '^(https?://.*)?$', default: '' },
    eventRetentionMs: { description: "Callbacks, and the guard of a finished stream, are kept in JetStream this long, ms; keep it above event-callbacks' deadLetterAfterMs.", type: 'integer', minimum: 60_000, default: 14 * 24 * 3_600_000 },
  },
};

/** NATS_URL turns the nats engine on, as env-only deployments configure it. */
export function clusterEnv(env: Env): Partial<ClusterOptions> {
  const out: Partial<ClusterOptions> = {};
  if (env.NATS_URL) {
    out.engine = 'nats';
    out.servers = env.NATS_URL.split(',').map((s) => s.trim()).filter(Boolean);
  }
  if (env.COORDINATOR_NODE_ID) out.nodeId = env.COORDINATOR_NODE_ID;
  if (env.COORDINATOR_ADVERTISE_URL) out.advertiseUrl = env.COORDINATOR_ADVERTISE_URL;
  return out;
}

export const cluster = definePlugin<ClusterOptions>({
  name: PLUGIN_NAME,
  optionsSchema,
  env: clusterEnv,
  check(options) {
    if (options.engine === 'nats' && options.deadAfterMs < options.heartbeatMs * 2) {
      return [{ path: 'deadAfterMs', message: `deadAfterMs (${options.deadAfterMs}) must be at least two heartbeats (heartbeatMs ${options.heartbeatMs}), or a slow moment declares live nodes dead` }];
    }
    return [];
  },
  async apply(api, options) {
    const { log } = api;
    const nodeId = options.nodeId || `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${process.pid}`;
    let state: ClusterState | undefined;
    const current = (): ClusterState => {
      if (!state) throw new Error('cluster state used before start');
      return state;
    };
    // The service is the live engine once started (the same object before and after).
    api.provide(CLUSTER_SERVICE, new Proxy({} as ClusterState, {
      get: (_t, key) => {
        const target = current();
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }));
    api.readiness(() => state !== undefined && !state.fenced);

    // acomm: a request for a task no local provider serves goes to a node that advertises it (after unix-transport found none).
    let registry: TaskRegistry | undefined;
    if (options.engine === 'nats' && options.shareTasks) {
      api.hooks.resolveProvider.tapPromise({ name: PLUGIN_NAME, stage: 10 }, async (request, ctx) => {
        if (!registry || request.taskURL || !request.task) return undefined;
        // Already forwarded to us by another coordinator (its answer goes to its /proxy): never forwarded again.
        if (ctx.origin === 'http' && request.responseHook?.pathname === '/proxy') return undefined;
        return registry.resolve(request);
      });
      api.onReady(() => {
        const { runtime } = api;
        const unix = runtime.optionalService('unix.transport');
        const federation = runtime.optionalService('http-ingress.federation');
        const httpServer = runtime.optionalService('http.server');
        if (!unix || !federation || !httpServer || !state) return;
        registry = new TaskRegistry({
          state,
          localTasks: async () => (await unix.tasks()).map((t) => t.task),
          forwarder: (url) => federation.forwarder(url),
          url: options.advertiseUrl || `${httpServer.baseUrl()}/`,
          intervalMs: options.heartbeatMs,
          log,
        });
        registry.start();
      });
      api.onDrain(() => registry?.stop());
    }
    api.onStart(async () => {
      if (options.engine === 'embedded') {
        state = new EmbeddedClusterState(nodeId);
        return;
      }
      const { NatsClusterState } = await import('./nats.js');
      state = await NatsClusterState.open({ servers: options.servers, nodeId, prefix: options.prefix, heartbeatMs: options.heartbeatMs, deadAfterMs: options.deadAfterMs, connection: options.connection, replicas: options.replicas, eventRetentionMs: options.eventRetentionMs });
      state.onMemberDead((node) => log.warn({ node }, 'cluster member dead (heartbeats stopped); this node cleans up after it'));
      state.onFenced(() => log.error({ node: nodeId }, 'this node was declared dead by the cluster: it stops acting (readiness: not ready)'));
      log.info({ engine: 'nats', node: nodeId, servers: options.servers.length, heartbeatMs: options.heartbeatMs, deadAfterMs: options.deadAfterMs }, 'joined the cluster');
    });
    api.onStop(async () => {
      await state?.close();
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'cluster.state': ClusterState;
  }
}
