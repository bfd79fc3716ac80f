// Streaming control plane: ingest servers (RTMP, WebSocket) and HLS encoders
// connect over authenticated WebSocket control channels; publishes go through
// the runtime's pipeline (ID check and key auth as onRequest taps, encoder
// choice as a resolveProvider tap); encoder reports become onEvent events;
// the application calls the commands API. A drop-in for the Go coordinator.

import { definePlugin } from '../../core/plugin.js';
import { makeEvent } from '../../core/events.js';
import { HTTP_SERVER_SERVICE } from '../http-server/index.js';
import { STREAM_AVAILABLE, STREAM_CLOSED } from '../shared/stream-events.js';
import { intVar, type Env } from '../shared/env.js';
import type { ControlRole } from './control-auth.js';
import { ClusterLink } from './cluster-link.js';
import { ControlPlane, type ControlPlaneDetails } from './control-plane.js';
import { PublishFlow } from './publish-flow.js';
import { ControlSessions } from './sessions.js';
import { installCommandsApi } from './commands-api.js';
import { commandsAuthCheck, logCommandsAuthProblem, resolveCommandsAuth } from '../shared/commands-auth.js';
export type { ControlPlaneDetails, Substream } from './control-plane.js';

export const PLUGIN_NAME = 'streaming-control';
export const STREAMING_SERVICE = 'streaming.control';

export interface StreamingControlOptions {
  /** CONTROL_SECRET: HMAC secret of the control JWTs. Empty: control channels closed (403). */
  controlSecret: string;
  /** Development only: accept control connections without a valid token when no secret is set. */
  allowUnauthenticatedControl: boolean;
  /** ID_MAX_LENGTH: longest channel id and stream key; 0 or less refuses every id (as the original). */
  idMaxLength: number;
  heartbeatIntervalMs: number;
  inactivityTimeoutMs: number;
  /** Largest control message accepted, bytes. */
  maxMessageBytes: number;
  /** Wait this long for encoder capacity instead of denying at once (0: deny, as the original). */
  publishQueueMs: number;
  /** Move an encoder's streams to another encoder when it disconnects. */
  reassignOnEncoderLoss: boolean;
  /** LOG_DEBUG: log every control message (stream keys redacted). */
  logMessages: boolean;
  /** LOG_REQUESTS: log every HTTP request of this plugin. */
  logRequests: boolean;
}

export interface StreamingService {
  capacity(): { load: number; capacity: number; encoderCount: number };
  report(): ReturnType<ControlPlane['report']>;
  /** More than the Go-compatible report: connection ages, draining flags, stream ages and announced sub-streams (the console's tables). */
  details(): ControlPlaneDetails;
  /** The close command: STREAM-KILL to the channel's publisher; false when no such channel is publishing. */
  closeStream(channel: string, streamId: string): boolean;
  /** A draining encoder keeps its streams and takes no new ones. */
  drainEncoder(id: number, draining: boolean): boolean;
  /** Connected control sessions by role. */
  sessionCounts(): Record<ControlRole, number>;
}

const optionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    controlSecret: { description: "HMAC secret of the control JWTs. Empty: control channels closed (403).", env: "CONTROL_SECRET", type: 'string', default: '' },
    allowUnauthenticatedControl: { description: "Development only: accept control connections without a token when no secret is set.", type: 'boolean', default: false },
    idMaxLength: { description: "Longest channel id and stream key; 0 or less refuses every id (as the original). A variable that is not an integer means 128.", env: "ID_MAX_LENGTH", type: 'integer', maximum: 65_536, default: 128 },
    heartbeatIntervalMs: { description: "Heartbeat interval of control channels, ms.", type: 'integer', minimum: 10, default: 20_000 },
    inactivityTimeoutMs: { description: "A control peer silent this long is disconnected, ms.", type: 'integer', minimum: 10, default: 60_000 },
    maxMessageBytes: { description: "Largest control message accepted, bytes (larger: the connection is closed).", type: 'integer', minimum: 1024, maximum: 16 * 1024 * 1024, default: 64 * 1024 },
    publishQueueMs: { description: "Wait this long for encoder capacity instead of denying at once, ms (0: deny, as the original).", type: 'integer', minimum: 0, maximum: 60_000, default: 0 },
    reassignOnEncoderLoss: { description: "Move an encoder's streams to another encoder when it disconnects.", type: 'boolean', default: false },
    logMessages: { description: "Log every control message at debug level (stream keys redacted).", env: "LOG_DEBUG=YES", type: 'boolean', default: false },
    logRequests: { description: "Log every commands API request.", env: "LOG_REQUESTS=NO turns it off", type: 'boolean', default: true },
  },
};

export function streamingEnv(env: Env): Partial<StreamingControlOptions> {
  return {
    controlSecret: env.CONTROL_SECRET,
    // Not an integer: the default (128), as the original read it.
    idMaxLength: intVar(env, 'ID_MAX_LENGTH'),
    logMessages: env.LOG_DEBUG === undefined ? undefined : env.LOG_DEBUG === 'YES',
    logRequests: env.LOG_REQUESTS === undefined ? undefined : env.LOG_REQUESTS !== 'NO',
  };
}

export const streamingControl = definePlugin<StreamingControlOptions>({
  name: PLUGIN_NAME,
  dependencies: ['http-server', 'key-auth'],
  optionsSchema,
  env: streamingEnv,
  check(options, { config, env }) {
    const problems = commandsAuthCheck(config.commandsApi, env);
    if (!options.controlSecret && !options.allowUnauthenticatedControl) problems.push({ path: 'controlSecret', message: 'CONTROL_SECRET is not set: control channels are closed (every ingest server and encoder is refused)', severity: 'warning' });
    return problems;
  },
  async apply(api, options) {
    // ws and jose are loaded only when the plugin is configured.
    const [{ WebSocketServer }, { verifyControlToken }] = await Promise.all([import('ws'), import('./control-auth.js')]);
    const { runtime, log } = api;
    const http = api.service(HTTP_SERVER_SERVICE);
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: options.maxMessageBytes });
    // With the cluster plugin's nats engine: channels are claimed cluster-wide, encoders shared (see cluster-link.ts).
    let link: ClusterLink | undefined;
    const currentLink = () => link;

    const plane = new ControlPlane({ reassignOnEncoderLoss: options.reassignOnEncoderLoss, log, logMessages: options.logMessages }, {
      streamAvailable: (data) => runtime.emit(makeEvent(STREAM_AVAILABLE, data)),
      streamClosed: (data) => runtime.emit(makeEvent(STREAM_CLOSED, data)),
      capacityFreed: () => publishes.wake(),
      channelClosed: (channel) => link?.released(channel),
      encoderChanged: (id) => link?.encoderChanged(id),
      remoteEncodeStop: (channel) => link?.remoteEncodeStop(channel),
      remoteStreamEnded: (stream) => link?.remoteStreamEnded(stream),
    });
    const publishes = new PublishFlow(api, plane, options, currentLink, log);
    publishes.install(PLUGIN_NAME);
    const sessions = new ControlSessions(wss, plane, publishes, options, verifyControlToken, currentLink, log);
    sessions.install(http, PLUGIN_NAME);

    const drainEncoder = (id: number, draining: boolean): boolean => {
      const found = plane.encoders.setDraining(id, draining);
      if (found) link?.encoderChanged(id);
      return found;
    };
    // One credential for every operator API: config.commandsApi, COMMANDS_API_AUTH* over it.
    const commandsAuth = resolveCommandsAuth(api.config.commandsApi, runtime.env);
    installCommandsApi({ http, plane, auth: commandsAuth, link: currentLink, log, logRequests: options.logRequests, drainEncoder }, PLUGIN_NAME);

    api.provide(STREAMING_SERVICE, {
      capacity: () => plane.encoders.totals(),
      report: () => plane.report(),
      details: () => plane.details(),
      closeStream: (channel, streamId) => plane.kill(channel, streamId),
      drainEncoder,
      sessionCounts: () => {
        const counts: Record<ControlRole, number> = { rtmp: 0, wss: 0, hls: 0 };
        for (const s of plane.sessions.values()) counts[s.role] += 1;
        return counts;
      },
    });

    api.onReady(() => {
      link = ClusterLink.connect(runtime, plane, log, (channel, streamId) => runtime.emit(makeEvent(STREAM_CLOSED, { channel, streamId })), () => {
        // Declared dead by the others: stop acting; peers re-dial a live coordinator.
        log.error('this coordinator was declared dead by the cluster: closing every control session');
        sessions.accepting = false;
        sessions.closeAll(1012, 'coordinator fenced');
      });
    });
    api.onStart(() => {
      if (!options.controlSecret) {
        log.warn(options.allowUnauthenticatedControl
          ? 'CONTROL_SECRET is not set and allowUnauthenticatedControl is on: ANY peer can control streams (development only)'
          : 'CONTROL_SECRET is not set: control channels are CLOSED (every ingest server and encoder is refused). Set CONTROL_SECRET to enable streaming.');
      }
      logCommandsAuthProblem(log, commandsAuth, 'the commands API is');
    });
    // Tell peers we are going: close control sockets so they re-dial another instance.
    api.onDrain(() => {
      sessions.accepting = false;
      publishes.wake();
    });
    api.onStop(async () => {
      sessions.closeAll(1001, 'coordinator stopping');
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(() => { for (const c of wss.clients) c.terminate(); resolve(); }, 2000);
        const check = () => { if (wss.clients.size === 0) { clearTimeout(deadline); resolve(); } else setTimeout(check, 20); };
        check();
      });
      wss.close();
    });
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'streaming.control': StreamingService;
  }
}
