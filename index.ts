// Public API of coordinator-runtime.

import { checkConfig as checkConfigWith, createCoordinatorWith, type CreateOptions } from './core/create.js';
import type { ConfigProblem } from './core/config/validate.js';
import type { CoordinatorConfig } from './core/config/types.js';
import type { Coordinator } from './core/runtime.js';
import { builtinPlugins } from './plugins/builtin.js';

/**
 * Build a coordinator runtime. Plugins listed in `config.plugins` are
 * registered in order (plugin objects, built-in names, or { name, options });
 * without `plugins` none is (the library binds nothing and writes nothing
 * unless asked). Add more with `.use()`, then `await start()`.
 * Environment variables apply only when `options.env` is given.
 */
export function createCoordinator(config: CoordinatorConfig = {}, options: CreateOptions = {}): Coordinator {
  return createCoordinatorWith({ builtins: builtinPlugins, defaults: [] }, config, options);
}

/** Every problem in a config (core keys, plugin entries, plugin options), without starting anything. */
export function checkConfig(config: CoordinatorConfig, options: Pick<CreateOptions, 'env' | 'overrides' | 'source'> = {}): ConfigProblem[] {
  return checkConfigWith(config, { builtins: builtinPlugins, defaults: [] }, options);
}

export type { ConfigProblem } from './core/config/validate.js';
export { Coordinator, validateRequest } from './core/runtime.js';
export type { DispatchOptions, CallOptions, RuntimeState, RequestTelemetry } from './core/runtime.js';
export type { CreateOptions } from './core/create.js';
export { definePlugin } from './core/plugin.js';
export type { PluginApi, PluginDefinition, PluginFactory, PluginInstance, PluginLike, JsonSchema, LifecycleFn, PluginCheckContext, PluginCheckProblem, ServiceTypes, ServiceName } from './core/plugin.js';
export { defineConfig } from './core/config/types.js';
export type { CoordinatorConfig, ResolvedConfig, PluginEntry } from './core/config/types.js';
export { resolveConfig, CONFIG_DEFAULTS } from './core/config/resolve.js';
export { loadConfig } from './core/config/load.js';
export type { LoadedConfig } from './core/config/load.js';
export { CoordinatorError, ERROR_CATALOG, isCoordinatorError, coordinatorError } from './core/errors.js';
export type { ErrorCode } from './core/errors.js';
export type { CoordinatorHooks, LifecycleContext } from './core/hooks.js';
export type { RequestContext, ResponseContext, StreamContext, TraceContext } from './core/context.js';
export type { Provider, SendOutcome } from './core/provider.js';
export type { Delivery } from './core/delivery.js';
export type { CoordinatorEvent } from './core/events.js';
export { makeEvent } from './core/events.js';
export { createRequest, successResponse, errorResponse, ackResponse } from './core/model.js';
export type { Request, Response } from './core/model.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse, encodeAck } from './core/codec.js';
export type { EncodeOptions } from './core/codec.js';
export { readWireUrl, toGoObject, unixUrl, parseWireUrlString } from './core/wire-url.js';
export type { GoURLObject } from './core/wire-url.js';
export type { Logger } from './core/logger.js';
export type { FanOutMember } from './core/fanout.js';
export { inProcessProvider, defineTask } from './plugins/inproc-provider/index.js';
export type { TaskHandler, TaskContext, InProcessTasks, TaskDefinition } from './plugins/inproc-provider/index.js';
export type { FromSchema, TaskTypes, TaskName, TaskArgs, TaskResult } from './core/schema-types.js';
export { builtinPlugins, PLUGIN_SETS } from './plugins/builtin.js';
export type { CoordinatorMode } from './plugins/builtin.js';
export { unixTransport, UNIX_TRANSPORT_SERVICE } from './plugins/unix-transport/index.js';
export type { UnixTransportOptions, UnixTransportService } from './plugins/unix-transport/index.js';
export { createProvider } from './plugins/unix-transport/provider-sdk.js';
export type { ProviderOptions, ProviderTaskHandler, ProviderTaskConfig, ProviderTaskContext, RunningProvider } from './plugins/unix-transport/provider-sdk.js';
export { encodeFrame, FrameReader } from './plugins/unix-transport/framing.js';
export { offerStream, readUnixStream } from './plugins/unix-transport/streams.js';
export { createClient } from './plugins/unix-transport/client-sdk.js';
export type { ClientOptions, AcommClient } from './plugins/unix-transport/client-sdk.js';
export { httpServer, HTTP_SERVER_SERVICE } from './plugins/http-server/index.js';
export type { HttpServerOptions, HttpServerService, RouteHandler, UpgradeHandler } from './plugins/http-server/index.js';
export { httpIngress } from './plugins/http-ingress/index.js';
export type { HttpIngressOptions } from './plugins/http-ingress/index.js';
export { replaceLocalhost } from './plugins/shared/localhost.js';
export { streamProxy, STREAM_PROXY_SERVICE } from './plugins/stream-proxy/index.js';
export type { StreamProxyOptions, StreamProxyService } from './plugins/stream-proxy/index.js';
export { keyAuth, PUBLISH_TASK, KEY_AUTH_ATTRIBUTE } from './plugins/key-auth/index.js';
export type { KeyAuthOptions, PublishArgs, StreamSettings } from './plugins/key-auth/index.js';
export { parseResolutionList, encodeResolutionList, parsePreviews, encodePreviews, settingsFromHeaders } from './plugins/key-auth/resolutions.js';
export { eventCallbacks, EVENT_CALLBACKS_SERVICE, STREAM_AVAILABLE, STREAM_CLOSED } from './plugins/event-callbacks/index.js';
export type { EventCallbacksOptions, EventCallbacksService, EventCallbacksStats, StreamAvailableEvent, StreamClosedEvent } from './plugins/event-callbacks/index.js';
export { verifySignature, SIGNATURE_HEADER } from './plugins/event-callbacks/signature.js';
export { streamingControl, STREAMING_SERVICE } from './plugins/streaming-control/index.js';
export type { StreamingControlOptions, StreamingService } from './plugins/streaming-control/index.js';
export { parseMessage, serializeMessage } from './plugins/streaming-control/messages.js';
export { EncoderPool } from './plugins/streaming-control/encoder-pool.js';
export { operations } from './plugins/operations/index.js';
export type { OperationsOptions } from './plugins/operations/index.js';
export type { Snapshot } from './plugins/operations/snapshot.js';
export { tracing, TRACING_SERVICE } from './plugins/tracing/index.js';
export type { TracingOptions, TracingService, TracedCall } from './plugins/tracing/index.js';
export { cluster, CLUSTER_SERVICE } from './plugins/cluster/index.js';
export type { ClusterOptions, ClusterState, ChannelClaim, EncoderRecord, Member } from './plugins/cluster/index.js';
