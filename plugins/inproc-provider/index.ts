// In-process provider: tasks served by functions registered in code, so the
// runtime is useful embedded with no socket at all. Other plugins (and the
// embedding app) can add tasks through the 'inproc.tasks' service.

import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import { errorResponse, successResponse, type Request } from '../../core/model.js';
import type { Provider } from '../../core/provider.js';
import type { RequestContext } from '../../core/context.js';
import type { Coordinator } from '../../core/runtime.js';
import type { FromSchema } from '../../core/schema-types.js';
import { argsValidator, type ArgsValidator } from '../shared/task-schemas.js';

export const PLUGIN_NAME = 'inproc-provider';

export interface TaskContext {
  readonly request: Request;
  readonly requestContext: RequestContext;
  /** The runtime, to make further requests (call, fanOut) from inside a task. */
  readonly runtime: Coordinator;
}

/** A task handler: return the result, or { result, streamURL } to offer output bytes. Throw to fail. */
export type TaskHandler = (args: any, context: TaskContext) => unknown | Promise<unknown>;

export interface TaskResultWithStream {
  result?: unknown;
  streamURL: URL;
}

/** A task with a JSON schema for its args: validated before dispatch, its handler's args typed from it. */
export interface TaskDefinition<S = unknown> {
  /** JSON schema of the args (declare it `as const` to type the handler's args). */
  schema: S;
  handler: (args: FromSchema<S>, context: TaskContext) => unknown | Promise<unknown>;
}

/** Define a task whose args are validated against `schema` and typed from it. */
export function defineTask<const S>(schema: S, handler: (args: FromSchema<S>, context: TaskContext) => unknown | Promise<unknown>): TaskDefinition<S> {
  return { schema, handler };
}

export interface InProcessTasks {
  register(task: string, handler: TaskHandler | TaskDefinition<any>): void;
  has(task: string): boolean;
}

export interface InProcessProviderOptions {
  tasks: Record<string, TaskHandler | TaskDefinition<any>>;
}

function isStreamResult(value: unknown): value is TaskResultWithStream {
  return typeof value === 'object' && value !== null && (value as TaskResultWithStream).streamURL instanceof URL;
}

export const inProcessProvider = definePlugin<InProcessProviderOptions>({
  name: PLUGIN_NAME,
  optionsSchema: { type: 'object', properties: { tasks: { description: 'Task name → handler function (args, context) => result; given in code, or added later through the inproc.tasks service.', type: 'object' } } },
  apply(api, options) {
    const handlers = new Map<string, TaskHandler>();
    const validators = new Map<string, ArgsValidator>();
    const runtime = api.runtime;
    function add(task: string, entry: TaskHandler | TaskDefinition<any>): void {
      if (typeof entry === 'function') {
        handlers.set(task, entry);
        return;
      }
      handlers.set(task, entry.handler as TaskHandler);
      validators.set(task, argsValidator(task, entry.schema));
    }
    for (const [task, entry] of Object.entries(options.tasks ?? {})) add(task, entry);

    const providers = new Map<string, Provider>();
    const providerFor = (task: string): Provider => {
      let provider = providers.get(task);
      if (!provider) {
        provider = {
          name: `inproc:${task}`,
          transport: 'inproc',
          async send(request, context) {
            const handler = handlers.get(request.task);
            if (!handler) throw new CoordinatorError('ERR_NO_PROVIDER', undefined, { requestId: request.id });
            // Acknowledge now; run the handler after the ack, as a provider would (a microtask, not a timer turn).
            queueMicrotask(() => run(handler, request, context));
          },
        };
        providers.set(task, provider);
      }
      return provider;
    };

    function answer(request: Request, value: unknown): void {
      runtime.receiveResponse(isStreamResult(value)
        ? successResponse(request.id, value.result ?? null, value.streamURL)
        : successResponse(request.id, value ?? null));
    }

    function fail(request: Request, err: unknown): void {
      const message = err instanceof Error ? err.message : String(err);
      runtime.receiveResponse(errorResponse(request.id, message));
    }

    /** Run the handler; a synchronous one is answered at once (no await, no extra microtask). */
    function run(handler: TaskHandler, request: Request, requestContext: RequestContext): void {
      let value: unknown;
      try {
        value = handler(request.args, { request, requestContext, runtime });
      } catch (err) {
        fail(request, err);
        return;
      }
      if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
        (value as PromiseLike<unknown>).then((v) => answer(request, v), (err: unknown) => fail(request, err));
      } else {
        answer(request, value);
      }
    }

    api.provide('inproc.tasks', {
      register(task, handler) {
        if (handlers.has(task)) throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `in-process task ${task} is registered twice`);
        add(task, handler);
      },
      has: (task) => handlers.has(task),
    });

    // Args of tasks with a schema are checked before anything runs (a clear ERR_BAD_REQUEST naming the field).
    api.hooks.onRequest.tap({ name: PLUGIN_NAME, stage: 50 }, (request) => {
      if (!request.taskURL) validators.get(request.task)?.(request.args, request.id);
      return request;
    });
    api.hooks.resolveProvider.tap({ name: PLUGIN_NAME, stage: -10 }, (request) => (handlers.has(request.task) && !request.taskURL ? providerFor(request.task) : undefined));
  },
});

declare module '../../core/plugin.js' {
  interface ServiceTypes {
    'inproc.tasks': InProcessTasks;
  }
}
