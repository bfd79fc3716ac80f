// The delivery thread (see delivery-thread.ts): runs the outbox delivery
// loop of delivery.ts for each outbox the event loop opens here, with its own
// undici agent, and keeps each outbox's stats() in memory the event loop
// reads without asking.

import { parentPort } from 'node:worker_threads';
import { outboxDelivery, type DeliveryLog, type OutboxDelivery } from './delivery.js';
import { errorShape, STAT_FIELDS, STAT_READY, type FromDeliveryThread, type ToDeliveryThread } from './delivery-messages.js';
import { callbackPoster } from './post.js';
import { outboxNotOpen } from './outbox.js';

const port = parentPort!;
const send = (message: FromDeliveryThread): void => port.postMessage(message);

interface Hosted {
  delivery: OutboxDelivery;
  /** The shared figures of stats() (see delivery-messages.ts). */
  figures: Float64Array;
  /** A rare figure or readiness changed and is not published yet. */
  dirty: boolean;
}

const hosted = new Map<number, Hosted>();

/** The outbox's figures, where the event loop reads them. */
function publish(h: Hosted): void {
  h.dirty = false;
  const stats = h.delivery.stats();
  for (let i = 0; i < STAT_FIELDS.length; i += 1) h.figures[i] = stats[STAT_FIELDS[i]!];
  h.figures[STAT_READY] = h.delivery.ready() ? 1 : 0;
}

// Counts move with every delivery; the figures that need a query (depth, dead letters) are refreshed on request and once a second.
setInterval(() => { for (const h of hosted.values()) publish(h); }, 1_000).unref();

function logTo(id: number): DeliveryLog {
  const at = (level: 'error' | 'warn' | 'info' | 'debug') => (fields: object, message: string) => send({ kind: 'log', id, level, fields, message });
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

async function call(h: Hosted, method: string, args: unknown[]): Promise<unknown> {
  switch (method) {
    case 'streamState': return h.delivery.streamState(args[0] as string, args[1] as string);
    case 'retryDeadLetters': return h.delivery.retryDeadLetters(args[0] as number);
    case 'idle': return h.delivery.idle(args[0] as number);
    case 'stats': return undefined;
    case 'stop': {
      await h.delivery.stop();
      return undefined;
    }
    default: throw new Error(`unknown call ${method}`);
  }
}

port.on('message', (message: ToDeliveryThread) => {
  switch (message.kind) {
    case 'open': {
      const changed = () => {
        if (h.dirty) return;
        h.dirty = true;
        setImmediate(() => {
          if (h.dirty && hosted.get(message.id) === h) publish(h);
        });
      };
      const delivery = outboxDelivery({ options: message.options, file: message.file, log: logTo(message.id), debug: message.debug, poster: callbackPoster(message.options), changed });
      const h: Hosted = { delivery, figures: new Float64Array(message.stats), dirty: false };
      try {
        delivery.start(message.resumed);
      } catch (err) {
        send({ kind: 'opened', id: message.id, error: errorShape(err) });
        return;
      }
      hosted.set(message.id, h);
      publish(h);
      send({ kind: 'opened', id: message.id });
      return;
    }
    case 'events': {
      const h = hosted.get(message.id);
      if (!h) return;
      const stored = () => {
        // What changed with these events (kept in memory, not ready) is readable before their emit() resolves.
        if (h.dirty) publish(h);
        send({ kind: 'stored', id: message.id, batch: message.batch });
      };
      // Emits resolve in the order they were made: the batch is stored when its last event is.
      let last: Promise<void> = Promise.resolve();
      for (const event of message.events) last = h.delivery.emit(event);
      last.then(stored, stored);
      return;
    }
    case 'call': {
      const h = hosted.get(message.id);
      if (!h) {
        send({ kind: 'result', id: message.id, call: message.call, error: errorShape(outboxNotOpen()) });
        return;
      }
      call(h, message.method, message.args).then(
        (value) => {
          // Every answer carries fresh figures: what the caller reads next is at least this recent.
          publish(h);
          if (message.method === 'stop') hosted.delete(message.id);
          send({ kind: 'result', id: message.id, call: message.call, value });
        },
        (err) => {
          if (message.method === 'stop') hosted.delete(message.id);
          send({ kind: 'result', id: message.id, call: message.call, error: errorShape(err) });
        },
      );
      return;
    }
  }
});
