// Every extension point of the runtime, declared in one place. A reader sees
// the whole surface here; plugins tap these by name while they are applied.
//
//   onRequest        waterfall  inspect, rewrite or reject (throw) a request
//   resolveProvider  bail       first plugin that can serve the task returns a Provider
//   onResponse       waterfall  inspect or rewrite a response before delivery
//   onStream         waterfall  rewrite a stream URL as it crosses a boundary
//   onEvent          parallel   domain events (stream available/closed, provider up/down)
//   start            series     plugins bind listeners, open stores (registration order)
//   ready            series     everything started; safe to announce readiness
//   drain            series     stop accepting new work (reverse registration order)
//   stop             series     close everything (reverse registration order)

import diagnostics from 'node:diagnostics_channel';
import { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook } from 'tapable';
import { CoordinatorError, isCoordinatorError } from './errors.js';
import type { Request, Response } from './model.js';
import type { Provider } from './provider.js';
import type { RequestContext, ResponseContext, StreamContext } from './context.js';
import type { CoordinatorEvent } from './events.js';

export interface LifecycleContext {
  /** Why the runtime stops ('stop()', 'SIGTERM', …); empty at start. */
  reason: string;
}

export interface CoordinatorHooks {
  readonly onRequest: AsyncSeriesWaterfallHook<[Request, RequestContext]>;
  readonly resolveProvider: AsyncSeriesBailHook<[Request, RequestContext], Provider | undefined>;
  readonly onResponse: AsyncSeriesWaterfallHook<[Response, ResponseContext]>;
  readonly onStream: AsyncSeriesWaterfallHook<[URL, StreamContext]>;
  readonly onEvent: AsyncParallelHook<[CoordinatorEvent]>;
  readonly start: AsyncSeriesHook<[LifecycleContext]>;
  readonly ready: AsyncSeriesHook<[LifecycleContext]>;
  readonly drain: AsyncSeriesHook<[LifecycleContext]>;
  readonly stop: AsyncSeriesHook<[LifecycleContext]>;
}

export const LIFECYCLE_HOOK_NAMES = ['start', 'ready', 'drain', 'stop'] as const;

export function createHooks(): CoordinatorHooks {
  return Object.freeze({
    onRequest: new AsyncSeriesWaterfallHook<[Request, RequestContext]>(['request', 'context'], 'onRequest'),
    resolveProvider: new AsyncSeriesBailHook<[Request, RequestContext], Provider | undefined>(['request', 'context'], 'resolveProvider'),
    onResponse: new AsyncSeriesWaterfallHook<[Response, ResponseContext]>(['response', 'context'], 'onResponse'),
    onStream: new AsyncSeriesWaterfallHook<[URL, StreamContext]>(['streamURL', 'context'], 'onStream'),
    onEvent: new AsyncParallelHook<[CoordinatorEvent]>(['event'], 'onEvent'),
    start: new AsyncSeriesHook<[LifecycleContext]>(['context'], 'start'),
    ready: new AsyncSeriesHook<[LifecycleContext]>(['context'], 'ready'),
    drain: new AsyncSeriesHook<[LifecycleContext]>(['context'], 'drain'),
    stop: new AsyncSeriesHook<[LifecycleContext]>(['context'], 'stop'),
  });
}

export interface HookGuardOptions {
  /** Refuses a tap once this returns true (taps are for apply time, tapable recompiles on each). */
  isSealed: () => boolean;
  /** Time a promise tap may take before it fails naming its plugin. */
  timeoutMs: (hookName: string) => number;
}

/**
 * Every tap call, as a node:diagnostics_channel TracingChannel
 * (`tracing:coordinator:tap:start|end|asyncStart|asyncEnd|error`), with
 * { hook, plugin, args } as its context. Costs one `hasSubscribers` check per
 * tap call until someone subscribes (the tracing plugin does, to make a child
 * span per tap).
 */
export const tapChannel = diagnostics.tracingChannel<string, TapTrace>('coordinator:tap');

export interface TapTrace {
  hook: string;
  plugin: string;
  args: unknown[];
  /** A promise tap: it finishes at asyncEnd (a sync tap at end). */
  async: boolean;
}

function wrapError(err: unknown, hookName: string, tapName: string): unknown {
  if (isCoordinatorError(err)) return err;
  // The cause is logged with the request; peers see which plugin failed, never JavaScript internals.
  return new CoordinatorError('ERR_HOOK_FAILED', `plugin ${tapName} failed in ${hookName}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    wire: `plugin ${tapName} failed in ${hookName}`,
    details: { plugin: tapName, hook: hookName },
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, hookName: string, tapName: string): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new CoordinatorError('ERR_HOOK_TIMEOUT', `plugin ${tapName} did not finish ${hookName} within ${ms} ms`, {
        details: { plugin: tapName, hook: hookName, timeoutMs: ms },
      }));
    }, ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (err: unknown) => { clearTimeout(timer); reject(wrapError(err, hookName, tapName)); },
    );
  });
}

/**
 * Install the guard on every hook: taps after start are refused; every tap's
 * errors name the plugin; promise taps get a timeout naming the plugin.
 */
export function guardHooks(hooks: CoordinatorHooks, options: HookGuardOptions): void {
  for (const [hookName, hook] of Object.entries(hooks) as [string, AsyncSeriesHook<unknown>][]) {
    hook.intercept({
      name: 'coordinator-guard',
      register(tap) {
        if (options.isSealed()) {
          throw new CoordinatorError('ERR_TAP_AFTER_START', `plugin ${tap.name} tapped ${hookName} after start(); tap while the plugin is applied`);
        }
        // Every hook of the runtime passes at most two arguments (value, context):
        // fixed parameters keep the per-call wrapper free of rest arrays.
        const original = tap.fn as (a?: unknown, b?: unknown) => unknown;
        const tapName = tap.name;
        const trace = (a: unknown, b: unknown, async: boolean): TapTrace => ({ hook: hookName, plugin: tapName, args: [a, b], async });
        if (tap.type === 'promise') {
          const guarded = (a?: unknown, b?: unknown): Promise<unknown> => {
            let result: unknown;
            try {
              result = original(a, b);
            } catch (err) {
              return Promise.reject(wrapError(err, hookName, tapName));
            }
            return withTimeout(Promise.resolve(result), options.timeoutMs(hookName), hookName, tapName);
          };
          tap.fn = (a?: unknown, b?: unknown) => (tapChannel.hasSubscribers ? tapChannel.tracePromise(guarded, trace(a, b, true), undefined, a, b) : guarded(a, b));
        } else if (tap.type === 'sync') {
          const guarded = (a?: unknown, b?: unknown): unknown => {
            try {
              return original(a, b);
            } catch (err) {
              throw wrapError(err, hookName, tapName);
            }
          };
          tap.fn = (a?: unknown, b?: unknown) => (tapChannel.hasSubscribers ? tapChannel.traceSync(guarded, trace(a, b, false), undefined, a, b) : guarded(a, b));
        }
        return tap;
      },
    });
  }
}

interface TapLike {
  type: string;
  fn: (...args: any[]) => unknown;
}

interface HookLike {
  taps: TapLike[];
  interceptors: Array<Record<string, unknown>>;
}

/**
 * True when every tap of `hook` is synchronous and no interceptor but the
 * guard's `register` is installed: the hook can then run without a promise
 * per tap (the hot path). Taps are sealed at start, so this is decided once.
 */
export function runsSync(hook: unknown): boolean {
  const h = hook as HookLike;
  return h.taps.every((t) => t.type === 'sync')
    && h.interceptors.every((i) => Object.keys(i).every((k) => k === 'register' || k === 'name'));
}

/** A waterfall hook's taps, synchronously (as tapable: undefined keeps the value). */
export function waterfallSync<T>(hook: unknown, value: T, context: unknown): T {
  for (const tap of (hook as HookLike).taps) {
    const result = tap.fn(value, context);
    if (result !== undefined) value = result as T;
  }
  return value;
}

/** A bail hook's taps, synchronously: the first result that is not undefined. */
export function bailSync<R>(hook: unknown, value: unknown, context: unknown): R | undefined {
  for (const tap of (hook as HookLike).taps) {
    const result = tap.fn(value, context);
    if (result !== undefined) return result as R;
  }
  return undefined;
}
