// What an operator can do from the console: close a stream, drain (or
// undrain) an encoder, send dead-lettered callbacks again. Each action needs
// a signed-in session and its CSRF token (header x-csrf-token), takes a small
// JSON body, is confirmed in the page before it is sent, and is written to
// the audit log with who did it.

import type http from 'node:http';
import type { Coordinator } from '../../core/runtime.js';
import type { AuditLog } from './audit.js';
import type { SessionStore } from './sessions.js';

export const CSRF_HEADER = 'x-csrf-token';
const MAX_BODY = 4096;

interface Outcome {
  status: number;
  body: Record<string, unknown>;
  /** Audit: what the action was applied to, and how it ended. */
  target: string;
  result: string;
}

type Action = (runtime: Coordinator, input: Record<string, unknown>) => Outcome | Promise<Outcome>;

const fail = (status: number, code: string, error: string, target = ''): Outcome => ({ status, body: { code, error }, target, result: code });

export const ACTIONS: Record<string, Action> = {
  'close-stream'(runtime, input) {
    const streaming = runtime.optionalService('streaming.control');
    if (!streaming) return fail(404, 'ERR_SERVICE_MISSING', 'streaming-control is not configured');
    const channel = typeof input.channel === 'string' ? input.channel : '';
    const streamId = typeof input.streamId === 'string' ? input.streamId : '';
    if (!channel || !streamId) return fail(400, 'ERR_BAD_REQUEST', 'give channel and streamId');
    const target = `${channel}/${streamId}`;
    if (!streaming.closeStream(channel, streamId)) return fail(404, 'ERR_NOT_FOUND', `no stream ${target} is publishing`, target);
    return { status: 200, body: { ok: true, message: `STREAM-KILL sent for ${target}` }, target, result: 'ok' };
  },
  'drain-encoder'(runtime, input) {
    const streaming = runtime.optionalService('streaming.control');
    if (!streaming) return fail(404, 'ERR_SERVICE_MISSING', 'streaming-control is not configured');
    const id = input.id;
    const draining = input.draining !== false;
    if (typeof id !== 'number' || !Number.isInteger(id)) return fail(400, 'ERR_BAD_REQUEST', 'give the encoder id (an integer)');
    const target = `encoder ${id} ${draining ? 'drain' : 'undrain'}`;
    if (!streaming.drainEncoder(id, draining)) return fail(404, 'ERR_NOT_FOUND', `no encoder ${id}`, target);
    return { status: 200, body: { ok: true, message: draining ? `encoder ${id} takes no new streams` : `encoder ${id} takes streams again` }, target, result: 'ok' };
  },
  async 'retry-dead-letters'(runtime) {
    const callbacks = runtime.optionalService('event-callbacks');
    if (!callbacks) return fail(404, 'ERR_SERVICE_MISSING', 'event-callbacks is not configured');
    const moved = await callbacks.retryDeadLetters();
    return { status: 200, body: { ok: true, moved, message: `${moved} callback(s) queued again` }, target: 'dead letters', result: `ok (${moved})` };
  },
};

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function readSmallJson(req: http.IncomingMessage): Promise<Record<string, unknown> | 'too large' | 'bad'> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_BODY) return 'too large';
  }
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : 'bad';
  } catch {
    return 'bad';
  }
}

/** POST /dashboard/actions/<name>. */
export function actionHandler(runtime: Coordinator, sessions: SessionStore, audit: AuditLog) {
  return async (req: http.IncomingMessage, res: http.ServerResponse, name: string): Promise<void> => {
    const session = sessions.of(req);
    if (!session) {
      req.resume();
      return reply(res, 401, { code: 'ERR_UNAUTHORIZED', error: 'sign in to the console first' });
    }
    const token = req.headers[CSRF_HEADER];
    if (!sessions.checkCsrf(session, typeof token === 'string' ? token : undefined)) {
      req.resume();
      audit.record({ actor: session.actor, ip: req.socket.remoteAddress ?? '', action: name.slice(0, 40), target: '', result: 'refused: missing or wrong CSRF token' });
      return reply(res, 403, { code: 'ERR_CSRF', error: `missing or wrong ${CSRF_HEADER}: reload the console and try again` });
    }
    const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
    if (!action) {
      req.resume();
      return reply(res, 404, { code: 'ERR_NOT_FOUND', error: `no console action ${name.slice(0, 40)}` });
    }
    const input = await readSmallJson(req);
    if (input === 'too large') return reply(res, 413, { code: 'ERR_FRAME_TOO_LARGE', error: `an action body is at most ${MAX_BODY} bytes` });
    if (input === 'bad') return reply(res, 400, { code: 'ERR_BAD_REQUEST', error: 'the body must be a JSON object' });
    let outcome: Outcome;
    try {
      outcome = await action(runtime, input);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERR_ACTION_FAILED';
      outcome = fail(503, code, (err as Error).message);
    }
    audit.record({ actor: session.actor, ip: req.socket.remoteAddress ?? '', action: name, target: outcome.target, result: outcome.result });
    reply(res, outcome.status, outcome.body);
  };
}
