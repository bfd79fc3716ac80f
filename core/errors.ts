// One catalog of every error the runtime raises. Each entry has a stable code,
// the text that travels on the wire (matching the original Go coordinator where
// it had one, so Go peers see what they always saw), an HTTP status, and a
// retryable flag that retry logic reads instead of guessing.

const MARKER = Symbol.for('coordinator-runtime.error');

export interface ErrorSpec {
  /** Text that goes on the wire in the `error` field of a response. */
  readonly wire: string;
  /** What a user should do about it; shown in logs and docs, never on the wire. */
  readonly hint: string;
  readonly status: number;
  readonly retryable: boolean;
}

export const ERROR_CATALOG = {
  ERR_BAD_REQUEST: { wire: 'bad request', hint: 'Fix the request: it is malformed or misses a required field.', status: 400, retryable: false },
  ERR_MISSING_ID: { wire: 'missing id', hint: 'Give every request a unique, non-empty id.', status: 400, retryable: false },
  ERR_MISSING_TASK: { wire: 'missing task', hint: 'Name the task the request is for.', status: 400, retryable: false },
  ERR_MISSING_RESPONSE_HOOK: { wire: 'missing responseHook', hint: 'Say where the response must go (responseHook).', status: 400, retryable: false },
  ERR_BAD_TASK_NAME: { wire: 'invalid task name', hint: 'Task names are used as directory names: letters, digits, ".", "_", "-" only, not a reserved name.', status: 400, retryable: false },
  ERR_BAD_URL: { wire: 'invalid url', hint: 'URLs must be absolute unix:, http: or https: URLs.', status: 400, retryable: false },
  ERR_UNKNOWN_SCHEME: { wire: 'unknown url scheme', hint: 'Use a unix:, http: or https: URL.', status: 400, retryable: false },
  ERR_URL_NOT_ALLOWED: { wire: 'url not allowed', hint: 'The coordinator policy does not allow this address; see the url policy in the config docs.', status: 403, retryable: false },
  ERR_DECODE: { wire: 'failed to unmarshal request', hint: 'The message is not valid acomm JSON.', status: 400, retryable: false },
  ERR_FRAME_TOO_LARGE: { wire: 'frame too large', hint: 'The message exceeds the configured maximum size (maxFrameBytes / maxBodyBytes).', status: 413, retryable: false },
  ERR_DUPLICATE_ID: { wire: 'request id already tracked', hint: 'Another request with this id is still in flight; use a fresh id.', status: 409, retryable: false },
  ERR_NO_PROVIDER: { wire: 'no providers available for task', hint: 'No provider serves this task: start one, or check the socket directory.', status: 404, retryable: true },
  ERR_PROVIDER_FAILED: { wire: 'provider failed', hint: 'Every provider of the task refused or could not be reached; see the attempts in the log.', status: 502, retryable: true },
  ERR_PROVIDER_GONE: { wire: 'provider gone', hint: 'The provider that accepted the request stopped (its socket refuses or vanished) before answering; retry, and check why the provider died.', status: 502, retryable: true },
  ERR_TIMEOUT: { wire: 'response timeout', hint: 'The provider did not answer in time; raise the timeout or check the provider.', status: 504, retryable: true },
  ERR_SHUTTING_DOWN: { wire: 'coordinator shutting down', hint: 'The coordinator is stopping; retry against another instance or after restart.', status: 503, retryable: true },
  ERR_OVERLOADED: { wire: 'coordinator overloaded', hint: 'A limit on what the coordinator holds at once was reached (bytes being received, open stream bridges, connections); retry shortly, or raise the limit named in the message.', status: 503, retryable: true },
  ERR_NOT_STARTED: { wire: 'coordinator not started', hint: 'Call start() before dispatching requests.', status: 503, retryable: true },
  ERR_REJECTED: { wire: 'request rejected', hint: 'A plugin refused the request; the message says which and why.', status: 403, retryable: false },
  ERR_DELIVERY: { wire: 'delivery failed', hint: 'The response could not be delivered to its response hook.', status: 502, retryable: true },
  ERR_NO_DELIVERY: { wire: 'no delivery for scheme', hint: 'No plugin delivers responses for this response hook scheme; add the matching transport plugin.', status: 400, retryable: false },
  ERR_HOOK_TIMEOUT: { wire: 'plugin timeout', hint: 'A plugin hook did not finish in time; the message names the plugin.', status: 500, retryable: true },
  ERR_HOOK_FAILED: { wire: 'plugin error', hint: 'A plugin hook threw; the message names the plugin.', status: 500, retryable: false },
  ERR_TAP_AFTER_START: { wire: 'tap after start', hint: 'Plugins tap hooks while they are applied, before start().', status: 500, retryable: false },
  ERR_PLUGIN_DUPLICATE: { wire: 'duplicate plugin', hint: 'Register each plugin once.', status: 500, retryable: false },
  ERR_PLUGIN_DEPENDENCY: { wire: 'missing plugin dependency', hint: 'Register the plugin it depends on first.', status: 500, retryable: false },
  ERR_PLUGIN_OPTIONS: { wire: 'invalid plugin options', hint: 'Fix the plugin options named in the message.', status: 500, retryable: false },
  ERR_UNKNOWN_PLUGIN: { wire: 'unknown plugin', hint: 'Name a built-in plugin or pass the plugin object itself in coordinator.config.ts.', status: 500, retryable: false },
  ERR_CONFIG: { wire: 'invalid configuration', hint: 'Fix the configuration; every problem is listed with its path.', status: 500, retryable: false },
  ERR_SERVICE_MISSING: { wire: 'service not found', hint: 'The plugin that provides this service is not registered.', status: 500, retryable: false },
  ERR_INTERNAL: { wire: 'internal error', hint: 'A bug: please report it with the log line.', status: 500, retryable: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface CoordinatorErrorOptions {
  requestId?: string;
  cause?: unknown;
  /** Text for the wire instead of the catalog's (e.g. a provider's own error string). */
  wire?: string;
  details?: Record<string, unknown>;
}

/** Every error the runtime raises. `code` is stable; `wireMessage` goes to peers. */
export class CoordinatorError extends Error {
  readonly code: ErrorCode;
  readonly requestId: string | undefined;
  readonly wireMessage: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options: CoordinatorErrorOptions = {}) {
    const spec: ErrorSpec = ERROR_CATALOG[code];
    super(message ?? spec.wire, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CoordinatorError';
    this.code = code;
    this.requestId = options.requestId;
    this.wireMessage = options.wire ?? message ?? spec.wire;
    this.status = spec.status;
    this.retryable = spec.retryable;
    this.details = options.details;
    Object.defineProperty(this, MARKER, { value: true });
  }

  get hint(): string {
    return ERROR_CATALOG[this.code].hint;
  }

  /** Recognises errors thrown by another installed copy of the runtime too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  withRequestId(requestId: string): CoordinatorError {
    if (this.requestId === requestId) return this;
    const copy = new CoordinatorError(this.code, this.message, {
      requestId,
      cause: this.cause,
      wire: this.wireMessage,
      ...(this.details ? { details: this.details } : {}),
    });
    return copy;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, requestId: this.requestId, details: this.details };
  }
}

export function coordinatorError(code: ErrorCode, message?: string, options?: CoordinatorErrorOptions): CoordinatorError {
  return new CoordinatorError(code, message, options);
}

export function isCoordinatorError(value: unknown): value is CoordinatorError {
  return value instanceof CoordinatorError;
}

/** Wrap anything thrown into a CoordinatorError, keeping codes that are already ours. */
export function toCoordinatorError(err: unknown, fallback: ErrorCode, requestId?: string): CoordinatorError {
  if (isCoordinatorError(err)) return requestId ? err.withRequestId(requestId) : err;
  const message = err instanceof Error ? err.message : String(err);
  return new CoordinatorError(fallback, message, { cause: err, ...(requestId ? { requestId } : {}) });
}
