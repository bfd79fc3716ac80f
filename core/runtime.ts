// The runtime: plugins, hooks, the tracker and the lifecycle. Every request,
// whatever door it came in by, goes through dispatch(); every response,
// whatever door it came back by, goes through receiveResponse().

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import diagnostics from 'node:diagnostics_channel';
import { CoordinatorError, toCoordinatorError } from './errors.js';
import { LIFECYCLE_HOOK_NAMES, bailSync, createHooks, guardHooks, runsSync, waterfallSync, type CoordinatorHooks, type LifecycleContext } from './hooks.js';
import { createRequestContext, type InternalRequestContext, type ResponseContext, type TraceContext } from './context.js';
import { ByteBudget } from './budget.js';
import type { JsonLimits } from './json-scan.js';
import type { Provider } from './provider.js';
import type { TaskArgs, TaskName, TaskResult } from './schema-types.js';
import { DeliveryRegistry, type Delivery } from './delivery.js';
import { createLogger, type Logger } from './logger.js';
import { createRequest, errorResponse, type Request, type Response } from './model.js';
import type { PluginApi, PluginInstance, PluginLike, LifecycleFn, ServiceName, ServiceTypes } from './plugin.js';
import { toPluginInstance } from './plugin.js';
import { InFlight, withinDeadline } from './in-flight.js';
import { Tracker, type TrackedRequest } from './tracker.js';
import type { ResolvedConfig } from './config/types.js';
import { configError } from './config/validate.js';
import { resolvePluginOptions } from './plugin-options.js';
import { schemeOf } from './wire-url.js';
import type { CoordinatorEvent } from './events.js';
import { fanOut, type FanOutMember } from './fanout.js';

export interface PluginDescription {
  name: string;
  version?: string;
  dependencies: string[];
  /** Hooks tapped, with the tap's stage (lower runs first). */
  taps: Array<{ hook: string; stage: number }>;
  services: string[];
  /** URL schemes of response hooks it delivers to. */
  deliveries: string[];
}

/** The `request` measurement on runtime.telemetry: one per request, when it is settled. */
export interface RequestTelemetry {
  /** The request id. */
  id: string;
  task: string;
  /** ok, forwarded (a unix provider answers the caller directly), or the error code. */
  outcome: string;
  /** From arrival to settlement, ms. */
  durationMs: number;
  /** A provider was found for the task (only such task names become metric labels). */
  resolved: boolean;
  /** The error text, for outcomes other than ok and forwarded. */
  error?: string;
}

export type RuntimeState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

export interface DispatchOptions {
  /** Door the request came in by (for logs and plugins). Default 'inproc'. */
  origin?: string;
  remoteAddress?: string | undefined;
  /** Overrides the configured request timeout for this request, ms. */
  timeoutMs?: number;
  /** Initial attributes for plugins (e.g. what an ingress learnt about the caller). */
  attributes?: Record<string, unknown>;
  /** The caller's W3C trace context (traceparent, tracestate), when it sent one. */
  traceContext?: TraceContext | undefined;
}

export interface CallOptions extends DispatchOptions {
  /** Request id; a random UUID when omitted. */
  id?: string;
  streamURL?: URL | null;
  taskURL?: URL | null;
}

export interface RuntimeOptions {
  config: ResolvedConfig;
  /** Use this logger instead of a new one (embedding apps). */
  logger?: Logger;
  /** Environment plugins read their variables from (default: none). */
  env?: NodeJS.ProcessEnv;
}

const channels = {
  requestStart: diagnostics.channel('coordinator:request:start'),
  requestAccepted: diagnostics.channel('coordinator:request:accepted'),
  requestError: diagnostics.channel('coordinator:request:error'),
  responseDelivered: diagnostics.channel('coordinator:response:delivered'),
};

/** Ids of in-process requests without one: a random prefix per process and a counter (a UUID per call costs more). */
const INPROC_ID_PREFIX = `${randomUUID()}-`;
let inprocSeq = 0;
function nextInprocId(): string {
  inprocSeq += 1;
  return INPROC_ID_PREFIX + inprocSeq.toString(36);
}

/** The options of a call that gives none (one object, not one per call). */
const NO_OPTIONS: CallOptions = Object.freeze({});

/** The response hook of every in-process request (its waiter rides on the request's context). */
const INPROC_HOOK = new URL('inproc://runtime/');

export class Coordinator {
  readonly hooks: CoordinatorHooks;
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly delivery = new DeliveryRegistry();
  /** Bytes being received over every door at once (config.maxPendingBytes); doors reserve before buffering. */
  readonly receiveBudget: ByteBudget;
  /** JSON nesting and member limits every door decodes with. */
  readonly jsonLimits: JsonLimits;
  /** Environment plugins read the original servers' variables from (empty unless the creator passed one). */
  readonly env: Readonly<Record<string, string | undefined>>;
  private readonly tracker: Tracker;
  private readonly plugins: PluginInstance<any>[] = [];
  private readonly services = new Map<string, { plugin: string; value: unknown }>();
  /** Response deliveries under way. */
  private readonly settling = new InFlight();
  /**
   * Per-runtime measurements for observers (metrics, dashboards): 'request'
   * (a request settled: task, outcome, durationMs) and what plugins report
   * ('provider:failure', 'publish', 'key-verification', …). Never throws into emitters.
   */
  readonly telemetry = new EventEmitter();
  private readonly readinessChecks = new Map<string, () => boolean>();
  private state: RuntimeState = 'created';
  /** Request hooks whose taps are all synchronous run without promises (decided at start, when taps are sealed). */
  private sync = { onRequest: false, resolveProvider: false, onResponse: false };
  private applied = false;
  private stopPromise: Promise<void> | undefined;

  constructor(options: RuntimeOptions) {
    this.config = options.config;
    this.env = options.env ?? {};
    this.log = options.logger ?? createLogger({ level: options.config.logLevel });
    this.hooks = createHooks();
    this.receiveBudget = new ByteBudget(this.config.maxPendingBytes);
    this.jsonLimits = Object.freeze({ maxDepth: this.config.maxJsonDepth, maxKeys: this.config.maxJsonKeys });
    guardHooks(this.hooks, {
      isSealed: () => this.state !== 'created',
      timeoutMs: (hook) => ((LIFECYCLE_HOOK_NAMES as readonly string[]).includes(hook) ? this.config.lifecycleTimeoutMs : this.config.hookTimeoutMs),
    });
    this.tracker = new Tracker((entry) => this.onTimeout(entry));
    this.telemetry.setMaxListeners(100);
    this.telemetry.on('error', () => undefined);
    this.delivery.register('inproc', { deliver: async (_hook, response, context) => this.deliverInProcess(context.requestContext as InternalRequestContext, response) }, 'core');
  }

  get status(): RuntimeState {
    return this.state;
  }

  /** Number of requests awaiting a response. */
  get inFlight(): number {
    return this.tracker.size;
  }

  /** Names of the registered plugins, in registration order. */
  get pluginNames(): string[] {
    return this.plugins.map((p) => p.definition.name);
  }

  // ---------------------------------------------------------------- plugins

  /** Register a plugin. Dependencies must be registered first; names are unique. */
  use(plugin: PluginLike): this {
    if (this.state !== 'created' || this.applied) {
      throw new CoordinatorError('ERR_TAP_AFTER_START', 'plugins are registered before start()');
    }
    const instance = toPluginInstance(plugin);
    const { definition } = instance;
    if (this.plugins.some((p) => p.definition.name === definition.name)) {
      throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `plugin ${definition.name} is registered twice`, { details: { plugin: definition.name } });
    }
    for (const dependency of definition.dependencies ?? []) {
      if (!this.plugins.some((p) => p.definition.name === dependency)) {
        throw new CoordinatorError('ERR_PLUGIN_DEPENDENCY', `plugin ${definition.name} needs plugin ${dependency}, which is not registered before it`, {
          details: { plugin: definition.name, dependency },
        });
      }
    }
    this.plugins.push(instance);
    return this;
  }

  private resolvePluginOptions(instance: PluginInstance<any>): Record<string, unknown> {
    const { definition } = instance;
    const { options, problems } = resolvePluginOptions(instance, this.config.pluginOptions[definition.name], { config: this.config, env: this.env });
    const errors = problems.filter((p) => p.severity !== 'warning');
    if (errors.length > 0) {
      const err = configError(errors, this.config.source);
      throw new CoordinatorError('ERR_PLUGIN_OPTIONS', err.message.replace('invalid configuration', `invalid options for plugin ${definition.name}`), {
        details: { plugin: definition.name, problems: errors },
      });
    }
    return options;
  }

  /** Apply every plugin (validate options, let it tap). start() does this if not done. */
  async applyPlugins(): Promise<void> {
    if (this.applied) return;
    this.applied = true;
    const optionsByPlugin = this.plugins.map((p) => this.resolvePluginOptions(p));
    for (const [index, instance] of this.plugins.entries()) {
      const api = this.createPluginApi(instance.definition.name, index);
      await instance.definition.apply(api, optionsByPlugin[index]);
    }
  }

  private createPluginApi(name: string, index: number): PluginApi {
    const log = this.log.child({ plugin: name });
    // Reverse order for drain/stop: later plugins stop first (tapable runs lower stages first).
    const tapLifecycle = (hook: keyof Pick<CoordinatorHooks, 'start' | 'ready' | 'drain' | 'stop'>, reverse: boolean) => (fn: LifecycleFn) => {
      this.hooks[hook].tapPromise({ name, stage: reverse ? -index : index }, async (ctx: LifecycleContext) => { await fn(ctx); });
    };
    return {
      name,
      runtime: this,
      hooks: this.hooks,
      config: this.config,
      log,
      onStart: tapLifecycle('start', false),
      onReady: tapLifecycle('ready', false),
      onDrain: tapLifecycle('drain', true),
      onStop: tapLifecycle('stop', true),
      provide: (service, value) => {
        const existing = this.services.get(service);
        if (existing) throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `service ${service} is provided by ${existing.plugin} already (${name} tried again)`);
        this.services.set(service, { plugin: name, value });
      },
      service: (service) => this.service(service),
      registerDelivery: (scheme: string, delivery: Delivery) => this.delivery.register(scheme, delivery, name),
      readiness: (check: () => boolean) => { this.readinessChecks.set(name, check); },
    };
  }

  /** A service provided by a plugin (its name and type declared in ServiceTypes). */
  service<K extends ServiceName>(service: K): ServiceTypes[K] {
    const entry = this.services.get(service);
    if (!entry) throw new CoordinatorError('ERR_SERVICE_MISSING', `no plugin provides service ${service}`);
    return entry.value as ServiceTypes[K];
  }

  /** The service if a plugin provides it. */
  optionalService<K extends ServiceName>(service: K): ServiceTypes[K] | undefined {
    return this.services.get(service)?.value as ServiceTypes[K] | undefined;
  }

  hasService(service: string): boolean {
    return this.services.has(service);
  }

  /**
   * What each plugin contributes, once applied: its dependencies, the hooks it
   * taps (with their stages), the services it provides and the URL schemes it
   * delivers (`coordinator plugins` prints this).
   */
  describePlugins(): PluginDescription[] {
    const taps = new Map<string, Array<{ hook: string; stage: number }>>();
    for (const [hook, instance] of Object.entries(this.hooks) as Array<[string, { taps: Array<{ name: string; stage?: number }> }]>) {
      for (const tap of instance.taps) {
        const list = taps.get(tap.name) ?? [];
        list.push({ hook, stage: tap.stage ?? 0 });
        taps.set(tap.name, list);
      }
    }
    return this.plugins.map(({ definition }) => ({
      name: definition.name,
      ...(definition.version ? { version: definition.version } : {}),
      dependencies: [...(definition.dependencies ?? [])],
      taps: taps.get(definition.name) ?? [],
      services: [...this.services].filter(([, entry]) => entry.plugin === definition.name).map(([name]) => name),
      deliveries: this.delivery.owners().filter((o) => o.plugin === definition.name).map((o) => o.scheme),
    }));
  }

  /** Readiness: started, and every plugin's own check (listeners bound, stores open) passes. */
  readiness(): { ready: boolean; status: RuntimeState; checks: Record<string, boolean> } {
    const checks: Record<string, boolean> = {};
    for (const [name, check] of this.readinessChecks) {
      try {
        checks[name] = check();
      } catch {
        checks[name] = false;
      }
    }
    return { ready: this.state === 'started' && Object.values(checks).every(Boolean), status: this.state, checks };
  }

  // -------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.state !== 'created') throw new CoordinatorError('ERR_INTERNAL', `start() called while ${this.state}`);
    await this.applyPlugins();
    this.state = 'starting';
    this.sync = { onRequest: runsSync(this.hooks.onRequest), resolveProvider: runsSync(this.hooks.resolveProvider), onResponse: runsSync(this.hooks.onResponse) };
    this.tracker.open();
    const ctx: LifecycleContext = { reason: '' };
    try {
      await this.hooks.start.promise(ctx);
    } catch (err) {
      this.log.error({ err }, 'start failed; stopping what started');
      this.state = 'started';
      await this.stop('start failed').catch((stopErr: unknown) => this.log.error({ err: stopErr }, 'stop after failed start failed'));
      throw err;
    }
    this.state = 'started';
    await this.hooks.ready.promise(ctx);
    this.log.info({ plugins: this.pluginNames }, 'coordinator started');
  }

  /**
   * Stop: plugins stop accepting (drain, reverse order), in-flight requests get
   * up to drainTimeoutMs to be answered, the rest are answered with
   * ERR_SHUTTING_DOWN, then plugins close (stop, reverse order). All of it
   * within stopTimeoutMs; what the deadline cut is logged.
   */
  stop(reason = 'stop()'): Promise<void> {
    this.stopPromise ??= this.doStop(reason);
    return this.stopPromise;
  }

  private async doStop(reason: string): Promise<void> {
    if (this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    // One deadline for the whole stop (config.stopTimeoutMs): a supervisor's
    // stop timeout (systemd: 90 s) must never be what ends us.
    const deadline = Date.now() + this.config.stopTimeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    const cut: string[] = [];
    const ctx: LifecycleContext = { reason };
    const errors: unknown[] = [];
    if (!await withinDeadline(this.hooks.drain.promise(ctx).catch((err: unknown) => { errors.push(err); }), left())) cut.push('drain hooks');
    this.tracker.close();
    const pending = this.tracker.size;
    const leftovers = await this.tracker.waitEmpty(Math.min(this.config.drainTimeoutMs, left()));
    for (const entry of leftovers) {
      if (this.tracker.remove(entry)) {
        if (entry.accepted) this.settle(entry, errorResponse(entry.request.id, 'coordinator shutting down', 'ERR_SHUTTING_DOWN'));
        else entry.cancel?.(new CoordinatorError('ERR_SHUTTING_DOWN', undefined, { requestId: entry.request.id }));
      }
    }
    if (leftovers.length > 0) cut.push(`${leftovers.length} in-flight request(s) answered ERR_SHUTTING_DOWN`);
    if (!await withinDeadline(this.settling.idle(), left())) cut.push(`${this.settling.size} response deliveries`);
    this.tracker.dispose();
    if (!await withinDeadline(this.hooks.stop.promise(ctx).catch((err: unknown) => { errors.push(err); }), left())) cut.push('plugin stop hooks');
    this.state = 'stopped';
    const summary = { reason, drained: pending - leftovers.length, cut: leftovers.length, stopTimeoutMs: this.config.stopTimeoutMs };
    if (cut.length > 0) this.log.warn({ ...summary, whatWasCut: cut }, 'coordinator stopped; some work was cut at the deadline');
    else this.log.info(summary, 'coordinator stopped');
    if (errors.length > 0) throw errors[0];
  }

  // ---------------------------------------------------------------- requests

  /**
   * Send a request through the pipeline: onRequest taps, validation,
   * resolveProvider, tracking, the provider's acknowledgement. Resolves when a
   * provider accepted it (the "ack"); the response goes to request.responseHook.
   * Rejects with a CoordinatorError carrying the request id.
   */
  dispatch(input: Request, options: DispatchOptions = NO_OPTIONS): Promise<void> {
    return this.dispatchFor(input, options, undefined);
  }

  /** dispatch(), with the in-process caller that waits for the response (carried on the request's context, not in a map by id). */
  private async dispatchFor(input: Request, options: DispatchOptions, waiter: ((response: Response) => void) | undefined): Promise<void> {
    if (this.state !== 'started') {
      throw new CoordinatorError(this.state === 'stopping' || this.state === 'stopped' ? 'ERR_SHUTTING_DOWN' : 'ERR_NOT_STARTED', undefined, { requestId: input.id });
    }
    const context = createRequestContext(this.log, input.id, options.origin ?? 'inproc', options.remoteAddress, options.timeoutMs ?? this.config.requestTimeoutMs);
    if (options.attributes) Object.assign(context.attributes, options.attributes);
    if (options.traceContext) context.traceContext = options.traceContext;
    if (waiter) context.inprocWaiter = waiter;
    if (channels.requestStart.hasSubscribers) channels.requestStart.publish({ request: input, context, runtime: this });
    // Whether a provider was found: only then is the task name a known one (metrics label it).
    let resolved = false;
    try {
      validateRequest(input);
      const request = this.sync.onRequest ? waterfallSync(this.hooks.onRequest, input, context) : await this.hooks.onRequest.promise(input, context);
      validateRequest(request);
      if (!this.delivery.has(schemeOf(request.responseHook!))) {
        throw new CoordinatorError('ERR_UNKNOWN_SCHEME', undefined, { requestId: request.id, details: { responseHook: request.responseHook!.href } });
      }
      const provider = this.sync.resolveProvider ? bailSync<Provider>(this.hooks.resolveProvider, request, context) : await this.hooks.resolveProvider.promise(request, context);
      if (!provider) {
        throw new CoordinatorError('ERR_NO_PROVIDER', undefined, { requestId: request.id, details: { task: request.task } });
      }
      resolved = true;
      if (request.streamURL) {
        request.streamURL = await this.hooks.onStream.promise(request.streamURL, {
          direction: 'request', to: provider.transport, request, response: undefined, requestContext: context, log: context.log,
        });
      }
      const entry = this.tracker.track(request, context, context.timeoutMs);
      let outcome;
      try {
        // The request's timeout covers the sends too: when it passes before a
        // provider accepted, the request ends here with ERR_TIMEOUT (its only
        // outcome; no hook delivery, no further failover).
        // An in-process provider answers its send at once; others may hang until the timeout cancels them.
        outcome = provider.transport === 'inproc'
          ? await provider.send(request, context)
          : await new Promise<Awaited<ReturnType<typeof provider.send>>>((resolve, reject) => {
            entry.cancel = reject;
            provider.send(request, context).then(resolve, reject);
          });
      } catch (err) {
        this.tracker.remove(entry);
        throw context.timedOut ? timeoutError(request.id, context.timeoutMs) : err;
      }
      entry.cancel = undefined;
      entry.accepted = true;
      if (outcome?.direct) {
        this.tracker.remove(entry);
        this.requestSettled(request.id, request.task, 'forwarded', context.receivedAt, resolved);
      }
      if (channels.requestAccepted.hasSubscribers) channels.requestAccepted.publish({ request, context, provider: provider.name });
    } catch (err) {
      context.refused();
      const error = toCoordinatorError(err, 'ERR_PROVIDER_FAILED', input.id);
      if (channels.requestError.hasSubscribers) channels.requestError.publish({ request: input, context, error });
      this.requestSettled(input.id, input.task, error.code, context.receivedAt, resolved, error.message);
      context.log.debug({ code: error.code, err: error.message }, 'request not accepted');
      throw error;
    }
  }

  /**
   * A response came back (from a provider, a peer coordinator, a timeout).
   * Returns false when no tracked request has its id (late or unknown: dropped).
   */
  receiveResponse(response: Response): boolean {
    const entry = this.tracker.take(response.id);
    if (!entry) {
      this.log.debug({ requestId: response.id }, 'response for no tracked request dropped');
      return false;
    }
    this.settle(entry, response);
    return true;
  }

  /** The request tracked under this id, if any (for transports that relay). */
  trackedRequest(id: string): Request | undefined {
    return this.tracker.get(id)?.request;
  }

  private onTimeout(entry: TrackedRequest): void {
    if (!this.tracker.remove(entry)) return;
    if (!entry.accepted) {
      // Still being sent: dispatch answers ERR_TIMEOUT; providers stop failing over.
      entry.context.abort();
      entry.cancel?.(timeoutError(entry.request.id, entry.context.timeoutMs));
      return;
    }
    entry.context.log.info({ task: entry.request.task, timeoutMs: entry.context.timeoutMs }, 'response timeout');
    this.settle(entry, errorResponse(entry.request.id, 'response timeout', 'ERR_TIMEOUT'));
  }

  private settle(entry: TrackedRequest, response: Response): void {
    // An in-process caller with synchronous onResponse taps and no stream: answered here and now, no promise.
    if (entry.request.responseHook === INPROC_HOOK && this.sync.onResponse && !response.streamURL) {
      this.settleInProcess(entry, response);
      return;
    }
    this.settling.track(this.deliverResponse(entry, response));
  }

  private settleInProcess(entry: TrackedRequest, incoming: Response): void {
    const { request, context } = entry;
    let response: Response;
    try {
      response = waterfallSync(this.hooks.onResponse, incoming, { request, requestContext: context, log: context.log });
    } catch (err) {
      const error = toCoordinatorError(err, 'ERR_DELIVERY', request.id);
      context.log.warn({ code: error.code, err: error.message }, 'response delivery failed');
      this.wakeWaiter(context, errorResponse(request.id, error.wireMessage, error.code));
      return;
    }
    if (!this.wakeWaiter(context, response)) {
      context.log.warn({ code: 'ERR_DELIVERY' }, 'response delivery failed: no in-process caller waits for it');
      return;
    }
    if (channels.responseDelivered.hasSubscribers) channels.responseDelivered.publish({ request, response });
    this.requestSettled(request.id, request.task, response.error ? (response.errorCode ?? 'error') : 'ok', context.receivedAt, true, response.error);
  }

  /** The 'request' measurement, made only when someone listens. */
  private requestSettled(id: string, task: string, outcome: string, receivedAt: number, resolved: boolean, error?: string | null): void {
    if (this.telemetry.listenerCount('request') === 0) return;
    const event: RequestTelemetry = { id, task, outcome, durationMs: Date.now() - receivedAt, resolved };
    if (error) event.error = error;
    this.telemetry.emit('request', event);
  }

  private async deliverResponse(entry: TrackedRequest, incoming: Response): Promise<void> {
    const { request, context } = entry;
    const responseContext: ResponseContext = { request, requestContext: context, log: context.log };
    try {
      let response = this.sync.onResponse ? waterfallSync(this.hooks.onResponse, incoming, responseContext) : await this.hooks.onResponse.promise(incoming, responseContext);
      const hook = request.responseHook!;
      if (response.streamURL) {
        const streamURL = await this.hooks.onStream.promise(response.streamURL, {
          direction: 'response', to: schemeOf(hook), request, response, requestContext: context, log: context.log,
        });
        response = { ...response, streamURL };
      }
      await this.delivery.deliver(hook, response, responseContext);
      if (channels.responseDelivered.hasSubscribers) channels.responseDelivered.publish({ request, response });
      this.requestSettled(request.id, request.task, response.error ? (response.errorCode ?? 'error') : 'ok', context.receivedAt, true, response.error);
    } catch (err) {
      const error = toCoordinatorError(err, 'ERR_DELIVERY', request.id);
      context.log.warn({ code: error.code, err: error.message, hook: request.responseHook?.protocol }, 'response delivery failed');
      // An in-process waiter must never hang: tell it what happened.
      if (request.responseHook && schemeOf(request.responseHook) === 'inproc') this.wakeWaiter(context, errorResponse(request.id, error.wireMessage, error.code));
    }
  }

  // ----------------------------------------------------------- in-process

  private deliverInProcess(context: InternalRequestContext, response: Response): void {
    if (!this.wakeWaiter(context, response)) throw new CoordinatorError('ERR_DELIVERY', 'no in-process caller waits for this response', { requestId: response.id });
  }

  /** Hand a response to the in-process caller waiting for this request (once); false when nobody waits. */
  private wakeWaiter(context: InternalRequestContext, response: Response): boolean {
    const waiter = context.inprocWaiter;
    if (!waiter) return false;
    context.inprocWaiter = undefined;
    waiter(response);
    return true;
  }

  /**
   * Send a request through the whole pipeline and await its response (the
   * response is delivered in-process). Dispatch failures are returned as error
   * responses with their code, never thrown.
   */
  async inject(fields: Partial<Request> & Pick<Request, 'task'>, options: DispatchOptions = NO_OPTIONS): Promise<Response> {
    const id = fields.id ?? nextInprocId();
    const request: Request = {
      id,
      task: fields.task,
      taskURL: fields.taskURL ?? null,
      responseHook: INPROC_HOOK,
      streamURL: fields.streamURL ?? null,
      args: fields.args ?? null,
    };
    let waiter!: (response: Response) => void;
    const responded = new Promise<Response>((resolve) => { waiter = resolve; });
    try {
      await this.dispatchFor(request, options, waiter);
    } catch (err) {
      const error = toCoordinatorError(err, 'ERR_INTERNAL', id);
      return errorResponse(id, error.wireMessage, error.code);
    }
    return responded;
  }

  /**
   * Run a task and return its result; throws a CoordinatorError when it
   * answers with an error. Tasks declared in TaskTypes are checked: their
   * args and result types come from the declaration.
   */
  call<K extends TaskName>(task: K, args: TaskArgs<K>, options?: CallOptions): Promise<TaskResult<K>>;
  call<T = unknown, N extends string = string>(task: N & (N extends TaskName ? never : unknown), args?: unknown, options?: CallOptions): Promise<T>;
  async call(task: string, args?: unknown, options: CallOptions = NO_OPTIONS): Promise<unknown> {
    const response = await this.inject(options === NO_OPTIONS ? { task, args: args ?? null } : { task, args: args ?? null, id: options.id, streamURL: options.streamURL ?? null, taskURL: options.taskURL ?? null }, options);
    if (response.error) {
      throw new CoordinatorError(response.errorCode ?? 'ERR_PROVIDER_FAILED', response.error, { requestId: response.id, wire: response.error });
    }
    return response.result;
  }

  /** Run several named requests at once; resolves when every one has a response (errors and timeouts included). */
  fanOut(members: Record<string, FanOutMember>, options: DispatchOptions = {}): Promise<Record<string, Response>> {
    return fanOut((member) => this.inject({ task: member.task, args: member.args ?? null }, { ...options, ...(member.timeoutMs ? { timeoutMs: member.timeoutMs } : {}) }), members);
  }

  // ----------------------------------------------------------------- events

  /** Publish a domain event to onEvent taps; tap failures are logged, never thrown. */
  async emit(event: CoordinatorEvent): Promise<void> {
    try {
      await this.hooks.onEvent.promise(event);
    } catch (err) {
      this.log.error({ err, event: event.type }, 'event handler failed');
    }
  }
}

function timeoutError(requestId: string, timeoutMs: number): CoordinatorError {
  return new CoordinatorError('ERR_TIMEOUT', undefined, { requestId, details: { timeoutMs, stage: 'sending to a provider' } });
}

/** The checks every request passes, whatever door it came in by. */
export function validateRequest(request: Request): void {
  if (!request.id) throw new CoordinatorError('ERR_MISSING_ID');
  if (!request.task && !request.taskURL) throw new CoordinatorError('ERR_MISSING_TASK', undefined, { requestId: request.id });
  if (!request.responseHook) throw new CoordinatorError('ERR_MISSING_RESPONSE_HOOK', undefined, { requestId: request.id });
}
