// The cluster's callback queue in NATS JetStream (see docs/scale-out.md).
//
// Each application stream (channel + stream id) has its own subject in one
// JetStream stream. An append reads the subject's last message and publishes
// with "expected last subject sequence" = that message's sequence, so the
// guard (stream-closed once, only after stream-available), the per-stream
// sequence number and the enqueue are one atomic write: two writers racing
// cannot both pass the guard, and a lost race is simply tried again. The
// message id is the delivery id (a competing append is never dropped as a
// "duplicate" of another event). Messages are kept after delivery (limits
// retention, maxAge): the last one of a subject is its stream's guard; a
// delivered stream-closed purges what came before it on its subject.
//
// One node at a time delivers: the one holding the `deliverer` key, which
// also records the floor (every event at or below it was delivered). The
// deliverer reads the stream in order from floor + 1 with an ordered
// consumer and posts each stream's events in order; when it dies (its
// member key is reaped) or leaves, another node takes the key over by
// compare-and-set and starts again from the floor. Events delivered after
// the last floor write are delivered again, with the same delivery id:
// at-least-once. A deliverer whose floor write is refused (someone took over)
// or that is no longer live (fenced, or its heartbeats are overdue) stops at once.

import { createHash, randomUUID } from 'node:crypto';
import type { EventLog, EventLogStats, LoggedEvent, LoggedEventType } from './types.js';

/** What a message holds: the event, and its stream's guard state after it. */
interface Stored extends LoggedEvent {
  /** The sequence number the stream's next event gets. */
  nextSeq: number;
  announced: boolean;
  closed: boolean;
}

interface KvEntry { revision: number; operation: string; string(): string }
interface Kv {
  create(key: string, data: string): Promise<number>;
  update(key: string, data: string, revision: number): Promise<number>;
  get(key: string): Promise<KvEntry | null>;
}

export interface NatsEventLogDeps {
  nc: unknown;
  prefix: string;
  nodeId: string;
  /** The deliverer key's bucket. */
  delivererKv: Kv;
  /** Whether `node` is a live member (its member key exists). */
  isMember(node: string): Promise<boolean>;
  /** This node may act (not fenced, heartbeats current). */
  live(): boolean;
  /** The connection to NATS is up (appends are refused at once while it is down, not queued). */
  connected(): boolean;
  /** Events are kept this long (the guard of a finished stream too), ms. */
  retentionMs: number;
  replicas: number;
  isConflict(err: unknown): boolean;
}

/** Events a deliverer holds in memory at most (it reads on as they are delivered). */
const MAX_IN_MEMORY = 10_000;
const APPEND_TRIES = 50;
const DELIVERER_KEY = 'deliverer';
/** How soon after a delivery the floor is written, ms. */
const FLOOR_WRITE_DELAY_MS = 10;

type Js = {
  publish(subject: string, data: string, opts: { msgID: string; expect?: { lastSubjectSequence: number } }): Promise<{ seq: number }>;
  consumers: { get(stream: string, opts: Record<string, unknown>): Promise<{ consume(opts: { max_messages: number }): Promise<AsyncIterable<{ seq: number; string(): string }> & { stop(): void }>; fetch(opts: { max_messages: number; expires: number }): Promise<AsyncIterable<{ seq: number; string(): string }>> }> };
};
type Jsm = {
  streams: {
    info(name: string): Promise<{ state: { messages: number; last_seq: number } }>;
    add(config: Record<string, unknown>): Promise<unknown>;
    getMessage(name: string, query: { last_by_subj: string }): Promise<{ seq: number; string(): string } | null>;
    purge(name: string, opts: { filter: string; seq: number }): Promise<unknown>;
    deleteMessage(name: string, seq: number): Promise<boolean>;
  };
};

const ms = (value: number) => value * 1_000_000; // JetStream durations are nanoseconds
/** One stream's key (its events' queue here, and the digest of its subject). */
const streamKeyOf = (channel: string, streamId: string) => JSON.stringify([channel, streamId]);

export class NatsEventLog implements EventLog {
  private readonly stream: string;
  private readonly deadStream: string;
  // Delivering (this node holds the deliverer key).
  private deliver: ((event: LoggedEvent, current: () => boolean) => Promise<void>) | undefined;
  private concurrency = 1;
  private leading = false;
  private term = 0;
  private revision = 0;
  private floor = 0;
  private writtenFloor = 0;
  private lastReceived = 0;
  private messages: { stop(): void } | undefined;
  private floorTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly outstanding = new Set<number>();
  private readonly queues = new Map<string, Array<{ seq: number; event: Stored }>>();
  private readonly ready: string[] = [];
  private readonly activeStreams = new Set<string>();
  private roomWaiter: (() => void) | undefined;
  private tickRunning = false;
  private cachedStats: EventLogStats = { depth: 0, deadLetters: 0, deliverer: '', inMemory: 0, received: 0 };
  /** The highest position this node has seen (its appends, the stream's state). */
  private lastKnownSeq = 0;

  private constructor(private readonly deps: NatsEventLogDeps, private readonly js: Js, private readonly jsm: Jsm, private readonly policy: { StartSequence: string }) {
    this.stream = `${deps.prefix}_callbacks`;
    this.deadStream = `${deps.prefix}_callbacks_dead`;
  }

  static async open(deps: NatsEventLogDeps): Promise<NatsEventLog> {
    const mod = await import('@nats-io/jetstream');
    const jsm = await mod.jetstreamManager(deps.nc as never) as unknown as Jsm;
    const js = mod.jetstream(deps.nc as never) as unknown as Js;
    const log = new NatsEventLog(deps, js, jsm, { StartSequence: mod.DeliverPolicy.StartSequence });
    const ensure = async (config: Record<string, unknown>) => {
      const name = config.name as string;
      try {
        await jsm.streams.info(name);
        return;
      } catch {
        // not there yet
      }
      try {
        await jsm.streams.add(config);
      } catch (err) {
        // Nodes starting at once: the loser of the creation race ("already in use", "subjects overlap") uses the winner's stream.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await jsm.streams.info(name).catch(() => { throw err; });
      }
    };
    await ensure({ name: log.stream, subjects: [`${deps.prefix}.cb.*`], retention: mod.RetentionPolicy.Limits, storage: mod.StorageType.File, max_age: ms(deps.retentionMs), duplicate_window: ms(120_000), num_replicas: deps.replicas, discard: mod.DiscardPolicy.Old });
    await ensure({ name: log.deadStream, subjects: [`${deps.prefix}.cbdead.*`], retention: mod.RetentionPolicy.Limits, storage: mod.StorageType.File, max_msgs: 1_000_000, num_replicas: deps.replicas, discard: mod.DiscardPolicy.New });
    log.statsTimer = setInterval(() => void log.refreshStats(), 2000);
    log.statsTimer.unref();
    void log.refreshStats();
    return log;
  }

  private subject(channel: string, streamId: string, dead = false): string {
    // One token per stream: a digest (channel ids may be long and hold any id character).
    const token = createHash('sha256').update(streamKeyOf(channel, streamId)).digest('base64url').slice(0, 32);
    return `${this.deps.prefix}.${dead ? 'cbdead' : 'cb'}.${token}`;
  }

  // ------------------------------------------------------------- appending

  private async last(subject: string): Promise<{ seq: number; stored: Stored | undefined }> {
    const message = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
    return message ? { seq: message.seq, stored: JSON.parse(message.string()) as Stored } : { seq: 0, stored: undefined };
  }

  /**
   * Append to a stream's subject on top of its last message, atomically:
   * `next` sees that message (the stream's guard state) and makes the new one,
   * or refuses (undefined); a lost race reads the guard again.
   */
  private async appendOnTop(subject: string, msgID: string, next: (prev: Stored | undefined) => Stored | undefined): Promise<{ stored: Stored; position: number } | undefined> {
    for (let attempt = 0; attempt < APPEND_TRIES; attempt += 1) {
      const { seq: lastSeq, stored: prev } = await this.last(subject);
      const stored = next(prev);
      if (!stored) return undefined;
      try {
        const ack = await this.js.publish(subject, JSON.stringify(stored), { msgID, expect: { lastSubjectSequence: lastSeq } });
        if (ack.seq > this.lastKnownSeq) this.lastKnownSeq = ack.seq;
        return { stored, position: ack.seq };
      } catch (err) {
        if (!this.deps.isConflict(err)) throw err;
      }
    }
    throw new Error(`event not stored: ${APPEND_TRIES} appends to one stream lost their race`);
  }

  async append(type: LoggedEventType, channel: string, streamId: string, headers: Record<string, string>): Promise<LoggedEvent | undefined> {
    if (!this.deps.connected()) throw new Error('NATS is out of reach: the event cannot be stored yet');
    const deliveryId = randomUUID();
    const appended = await this.appendOnTop(this.subject(channel, streamId), deliveryId, (prev) => {
      if (type === 'stream-closed' && (!prev?.announced || prev.closed)) return undefined;
      const seq = prev?.nextSeq ?? 1;
      return { deliveryId, channel, streamId, seq, type, headers, createdAt: Date.now(), ...guardAfter(prev, type, seq + 1) };
    });
    return appended && { ...strip(appended.stored), position: appended.position };
  }

  async deadLetter(event: LoggedEvent, error: string): Promise<void> {
    await this.js.publish(this.subject(event.channel, event.streamId, true), JSON.stringify({ ...event, error: error.slice(0, 500), diedAt: Date.now() }), { msgID: `${event.deliveryId}.dead` });
    this.cachedStats.deadLetters += 1;
  }

  async reviveDeadLetters(limit: number): Promise<number> {
    const consumer = await this.js.consumers.get(this.deadStream, {});
    let moved = 0;
    for await (const message of await consumer.fetch({ max_messages: Math.max(1, Math.min(limit, 1000)), expires: 1000 })) {
      const dead = JSON.parse(message.string()) as LoggedEvent & { error?: string; diedAt?: number };
      const event: LoggedEvent = { deliveryId: dead.deliveryId, channel: dead.channel, streamId: dead.streamId, seq: dead.seq, type: dead.type, headers: dead.headers, createdAt: dead.createdAt };
      // Back in its stream, with its own sequence number; the guard keeps what the stream has seen since.
      await this.appendOnTop(this.subject(event.channel, event.streamId), `${event.deliveryId}.revived.${message.seq}`,
        (prev) => ({ ...event, createdAt: Date.now(), ...guardAfter(prev, event.type, Math.max(prev?.nextSeq ?? 1, event.seq + 1)) }));
      await this.jsm.streams.deleteMessage(this.deadStream, message.seq);
      this.cachedStats.deadLetters = Math.max(0, this.cachedStats.deadLetters - 1);
      moved += 1;
      if (moved >= limit) break;
    }
    void this.refreshStats();
    return moved;
  }

  // ------------------------------------------------------------- delivering

  consume(deliver: (event: LoggedEvent, current: () => boolean) => Promise<void>, options: { concurrency: number }): void {
    this.deliver = deliver;
    this.concurrency = Math.max(1, options.concurrency);
    this.tick();
  }

  /** Called at every heartbeat: take the deliverer key over when nobody live holds it. */
  tick(): void {
    if (!this.deliver || this.tickRunning) return;
    if (this.leading) {
      if (!this.deps.live()) this.resign('this node is no longer live');
      return;
    }
    if (!this.deps.live()) return;
    this.tickRunning = true;
    void this.tryLead().catch(() => undefined).finally(() => { this.tickRunning = false; });
  }

  private async tryLead(): Promise<void> {
    const entry = await this.deps.delivererKv.get(DELIVERER_KEY);
    const value = JSON.stringify({ node: this.deps.nodeId, floor: 0 });
    if (!entry || entry.operation !== 'PUT') {
      try {
        const revision = entry ? await this.deps.delivererKv.update(DELIVERER_KEY, value, entry.revision) : await this.deps.delivererKv.create(DELIVERER_KEY, value);
        await this.lead(revision, 0);
      } catch (err) {
        if (!this.deps.isConflict(err)) throw err;
      }
      return;
    }
    const held = JSON.parse(entry.string()) as { node: string; floor: number };
    // Held by a live member (another node, or this one before a restart under the same id while its key lives on).
    if (held.node !== '' && held.node !== this.deps.nodeId && await this.deps.isMember(held.node)) return;
    try {
      const revision = await this.deps.delivererKv.update(DELIVERER_KEY, JSON.stringify({ node: this.deps.nodeId, floor: held.floor }), entry.revision);
      await this.lead(revision, held.floor);
    } catch (err) {
      if (!this.deps.isConflict(err)) throw err;
    }
  }

  private async lead(revision: number, floor: number): Promise<void> {
    this.leading = true;
    this.term += 1;
    const term = this.term;
    this.revision = revision;
    this.floor = floor;
    this.writtenFloor = floor;
    this.lastReceived = floor;
    const consumer = await this.js.consumers.get(this.stream, { deliver_policy: this.policy.StartSequence, opt_start_seq: floor + 1 });
    if (!this.current(term)) return;
    const messages = await consumer.consume({ max_messages: 256 });
    this.messages = messages;
    void (async () => {
      for await (const message of messages) {
        if (!this.current(term)) break;
        this.receive(message.seq, JSON.parse(message.string()) as Stored);
        if (this.outstanding.size >= MAX_IN_MEMORY) await new Promise<void>((resolve) => { this.roomWaiter = resolve; });
      }
    })().catch(() => this.resign('the event stream could not be read'));
  }

  private current(term: number): boolean {
    return this.leading && this.term === term && this.deps.live();
  }

  private receive(seq: number, event: Stored): void {
    this.outstanding.add(seq);
    this.lastReceived = seq;
    const key = streamKeyOf(event.channel, event.streamId);
    let queue = this.queues.get(key);
    if (!queue) {
      queue = [];
      this.queues.set(key, queue);
    }
    queue.push({ seq, event });
    if (queue.length === 1 && !this.activeStreams.has(key)) this.ready.push(key);
    this.pump();
  }

  private pump(): void {
    while (this.activeStreams.size < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.activeStreams.add(key);
      void this.run(key, this.term);
    }
  }

  /** One stream's events, in order, until its queue is empty or this node stops delivering. */
  private async run(key: string, term: number): Promise<void> {
    const queue = this.queues.get(key)!;
    let failed = false;
    while (queue.length > 0 && this.current(term)) {
      const { seq, event } = queue[0]!;
      try {
        await this.deliver!(strip(event), () => this.current(term));
      } catch {
        failed = true;
        break;
      }
      queue.shift();
      this.outstanding.delete(seq);
      this.floorSoon(term);
      if (this.roomWaiter && this.outstanding.size < MAX_IN_MEMORY / 2) {
        this.roomWaiter();
        this.roomWaiter = undefined;
      }
      // A delivered stream-closed: what came before it on its subject is no longer needed (the guard is the last message).
      if (event.type === 'stream-closed') void this.jsm.streams.purge(this.stream, { filter: this.subject(event.channel, event.streamId), seq }).catch(() => undefined);
    }
    this.activeStreams.delete(key);
    if (!this.current(term)) return;
    if (queue.length === 0) this.queues.delete(key);
    else if (failed) setTimeout(() => { if (this.current(term)) { this.ready.push(key); this.pump(); } }, 1000).unref();
    else this.ready.push(key);
    this.pump();
  }

  /**
   * Write the floor shortly after deliveries (the deliveries of a few
   * milliseconds share one write): what a successor delivers again after a
   * crash is what was delivered since the last write.
   */
  private floorSoon(term: number): void {
    if (this.floorTimer) return;
    this.floorTimer = setTimeout(() => {
      this.floorTimer = undefined;
      void this.writeFloor(term);
    }, FLOOR_WRITE_DELAY_MS);
    this.floorTimer.unref();
  }

  /** One floor write at a time (each writes on the revision the previous one returned). */
  private floorWrite: Promise<void> = Promise.resolve();

  private writeFloor(term: number): Promise<void> {
    this.floorWrite = this.floorWrite.then(() => this.writeFloorNow(term));
    return this.floorWrite;
  }

  private async writeFloorNow(term: number): Promise<void> {
    if (!this.current(term)) return;
    const floor = this.currentFloor();
    if (floor <= this.writtenFloor) return;
    try {
      this.revision = await this.deps.delivererKv.update(DELIVERER_KEY, JSON.stringify({ node: this.deps.nodeId, floor }), this.revision);
      this.writtenFloor = floor;
    } catch (err) {
      if (this.deps.isConflict(err)) this.resign('another node took the deliverer key over');
    }
  }

  private resign(_reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.term += 1;
    if (this.floorTimer) clearTimeout(this.floorTimer);
    this.floorTimer = undefined;
    this.messages?.stop();
    this.messages = undefined;
    this.outstanding.clear();
    this.queues.clear();
    this.ready.length = 0;
    this.roomWaiter?.();
    this.roomWaiter = undefined;
  }

  // ------------------------------------------------------------- state

  async deliveredThrough(): Promise<number> {
    if (this.leading) return this.currentFloor();
    const entry = await this.deps.delivererKv.get(DELIVERER_KEY);
    return entry && entry.operation === 'PUT' ? (JSON.parse(entry.string()) as { floor: number }).floor : 0;
  }

  /** Every position at or below this was delivered or dead-lettered (while delivering). */
  private currentFloor(): number {
    let floor = this.lastReceived;
    for (const seq of this.outstanding) if (seq - 1 < floor) floor = seq - 1;
    return floor;
  }

  stats(): EventLogStats {
    if (!this.leading) return { ...this.cachedStats, inMemory: 0, received: 0 };
    // Delivering: what is held in memory, and what was appended beyond what has been read.
    return { ...this.cachedStats, depth: this.outstanding.size + Math.max(0, this.lastKnownSeq - this.lastReceived), inMemory: this.outstanding.size, received: this.lastReceived };
  }

  private async refreshStats(): Promise<void> {
    try {
      const [info, dead, entry] = await Promise.all([this.jsm.streams.info(this.stream), this.jsm.streams.info(this.deadStream), this.deps.delivererKv.get(DELIVERER_KEY)]);
      const held = entry && entry.operation === 'PUT' ? JSON.parse(entry.string()) as { node: string; floor: number } : { node: '', floor: 0 };
      const floor = this.leading ? this.currentFloor() : held.floor;
      if (info.state.last_seq > this.lastKnownSeq) this.lastKnownSeq = info.state.last_seq;
      this.cachedStats = { depth: Math.max(0, info.state.last_seq - floor), deadLetters: dead.state.messages, deliverer: held.node, inMemory: this.outstanding.size, received: this.lastReceived };
    } catch {
      // NATS out of reach: the last known figures stay
    }
  }

  async stop(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.deliver = undefined;
    if (!this.leading) return;
    const term = this.term;
    await this.writeFloor(term).catch(() => undefined);
    // Hand the key over at once (node ''), with the floor reached.
    if (this.leading && this.term === term) {
      await this.deps.delivererKv.update(DELIVERER_KEY, JSON.stringify({ node: '', floor: this.writtenFloor }), this.revision).catch(() => undefined);
    }
    this.resign('stopping');
  }
}

/** A stream's guard state once an event of `type` is on top of `prev`. */
function guardAfter(prev: Stored | undefined, type: LoggedEventType, nextSeq: number): Pick<Stored, 'nextSeq' | 'announced' | 'closed'> {
  return { nextSeq, announced: (prev?.announced ?? false) || type === 'stream-available', closed: (prev?.closed ?? false) || type === 'stream-closed' };
}

function strip(stored: Stored): LoggedEvent {
  return { deliveryId: stored.deliveryId, channel: stored.channel, streamId: stored.streamId, seq: stored.seq, type: stored.type, headers: stored.headers, createdAt: stored.createdAt };
}
