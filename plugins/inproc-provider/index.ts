// In-process provider: tasks served by functions registered in code, so the
// runtime is useful embedded with no socket at all. Other plugins (and the
// embedding app) can add tasks through the 'inproc.tasks' service.

import { definePlugin } from '../../core/plugin.js';
import { CoordinatorError } from '../../core/errors.js';
import { errorResponse, successResponse, type Request } from '../../core/model.js';
import type { Provider } from '../../core/provider.js';
import type { RequestContext } from '../../core/context.js';
import type { Coordinator } from '../../core/runtime.js';

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

export interface InProcessTasks {
  register(task: string, handler: TaskHandler): void;
  has(task: string): boolean;
}

export interface InProcessProviderOptions {
  tasks: Record<string, TaskHandler>;
}

function isStreamResult(value: unknown): value is TaskResultWithStream {
  return typeof value === 'object' && value !== null && (value as TaskResultWithStream).streamURL instanceof URL;
}

export const inProcessProvider = definePlugin<InProcessProviderOptions>({
  name: PLUGIN_NAME,
  optionsSchema: { type: 'object', properties: { tasks: { description: 'Task name → handler function (args, context) => result; given in code, or added later through the inproc.tasks service.', type: 'object' } } },
  apply(api, options) {
    const handlers = new Map<string, TaskHandler>(Object.entries(options.tasks ?? {}));
    const runtime = api.runtime;

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
            // Acknowledge now; run the handler after the ack, as a provider would.
            setImmediate(() => void run(handler, request, context));
          },
        };
        providers.set(task, provider);
      }
      return provider;
    };

    async function run(handler: TaskHandler, request: Request, requestContext: RequestContext): Promise<void> {
      try {
        const value = await handler(request.args, { request, requestContext, runtime });
        runtime.receiveResponse(isStreamResult(value)
          ? successResponse(request.id, value.result ?? null, value.streamURL)
          : successResponse(request.id, value ?? null));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        runtime.receiveResponse(errorResponse(request.id, message));
      }
    }

    api.provide<InProcessTasks>('inproc.tasks', {
      register(task, handler) {
        if (handlers.has(task)) throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `in-process task ${task} is registered twice`);
        handlers.set(task, handler);
      },
      has: (task) => handlers.has(task),
    });

    api.hooks.resolveProvider.tap({ name: PLUGIN_NAME, stage: -10 }, (request) => (handlers.has(request.task) && !request.taskURL ? providerFor(request.task) : undefined));
  },
});
