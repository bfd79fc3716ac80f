// The nats engine: the cluster's shared state in NATS JetStream key-value
// buckets. Claims are compare-and-set writes (create, update and delete on a
// revision), each encoder is written only by the node that holds its socket
// (its key starts with that node's id), and membership is a heartbeat key per
// node updated on its own revision. A node is judged dead by server
// timestamps (how long ago, by the server's clock, its key was last written
// compared with our own last write), never by when we happened to read it;
// one survivor wins the right to clean up (a `create` on the dead node's
// revision); a node whose heartbeat can no longer be written (it was declared
// dead, or NATS was out of reach longer than the death timeout) fences itself.
//
// The NATS client packages are optional peer dependencies, imported only here.

import { CoordinatorError } from '../../core/errors.js';
import type { ChannelClaim, ClusterState, EncoderRecord, EventLog, IngestRecord, Member, TaskPeer } from './types.js';
import { NatsEventLog } from './nats-events.js';

export interface NatsClusterOptions {
  servers: string[];
  nodeId: string;
  /** Prefix of the buckets, so that several clusters can share one NATS. */
  prefix: string;
  heartbeatMs: number;
  /** A node whose heartbeat is this old (server time) is dead. */
  deadAfterMs: number;
  /** NATS connection options passed through (user, pass, token, tls…). */
  connection?: Record<string, unknown>;
  /** Replicas of every bucket and stream (3 on a production NATS cluster). */
  replicas?: number;
  /** Callbacks (and a finished stream's guard) are kept this long, ms. */
  eventRetentionMs?: number;
}

interface MsgLike { subject: string; data: Uint8Array; string(): string; respond(data: string): boolean }
interface NcLike {
  drain(): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: MsgLike) => void }): unknown;
  request(subject: string, data: string, opts: { timeout: number }): Promise<MsgLike>;
  status(): AsyncIterable<{ type: string }>;
}

type KvEntryLike = { revision: number; created: Date; operation: string; string(): string };
interface KvLike {
  create(key: string, data: string): Promise<number>;
  update(key: string, data: string, revision: number): Promise<number>;
  put(key: string, data: string): Promise<number>;
  get(key: string): Promise<KvEntryLike | null>;
  delete(key: string, options?: { previousSeq: number }): Promise<void>;
  keys(filter?: string): Promise<AsyncIterable<string> & { stop?(): void }>;
}

export const NATS_PACKAGES = ['@nats-io/transport-node@~3.3.1', '@nats-io/jetstream@~3.3.1', '@nats-io/kv@~3.3.1'];
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A bucket listing that takes longer than this (or the death timeout, if longer) fails. */
const LISTING_TIMEOUT_MS = 3000;

async function loadNats() {
  try {
    const [transport, kv] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/kv')]);
    return { connect: transport.connect, Kvm: kv.Kvm };
  } catch (err) {
    throw new CoordinatorError('ERR_CONFIG', `cluster engine 'nats' needs the NATS client packages, which are not installed (${(err as Error).message.split('\n')[0]}): npm install ${NATS_PACKAGES.join(' ')}`, { cause: err });
  }
}

/** A write refused because the key was not at the expected revision (someone else wrote it first). */
function isConflict(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? ''} ${(err as { code?: unknown })?.code ?? ''} ${(err as { api_error?: { err_code?: number } })?.api_error?.err_code ?? ''}`;
  return /wrong last sequence|10071|key exists/i.test(text);
}

const present = (entry: KvEntryLike | null): entry is KvEntryLike => entry !== null && entry.operation === 'PUT';

/** `work`, or a rejection once `ms` have passed (the work itself goes on, unawaited). */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class NatsClusterState implements ClusterState {
  readonly engine = 'nats' as const;
  private fencedNow = false;
  private readonly deadListeners: Array<(node: string) => void | Promise<void>> = [];
  private readonly fencedListeners: Array<() => void> = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private revision = 0;
  private lastBeatOk = Date.now();
  private readonly startedAt = Date.now();
  private closing = false;
  private beating: Promise<void> | undefined;

  private constructor(
    private readonly options: NatsClusterOptions,
    private readonly nc: NcLike,
    private readonly channelsKv: KvLike,
    private readonly encodersKv: KvLike,
    private readonly membersKv: KvLike,
    private readonly reaperKv: KvLike,
    private readonly ingestsKv: KvLike,
    private readonly slotsKv: KvLike,
  ) {}

  slot = 0;
  eventLog: (EventLog & { tick(): void; stop(): Promise<void> }) | undefined;

  static async open(options: NatsClusterOptions): Promise<NatsClusterState> {
    if (!NODE_ID.test(options.nodeId)) throw new CoordinatorError('ERR_CONFIG', `cluster.nodeId must be 1–64 letters, digits, '_' or '-', got ${JSON.stringify(options.nodeId)}`);
    const { connect, Kvm } = await loadNats();
    // noAsyncTraces: the client otherwise builds an Error (a stack trace) per request, in case it times out: measured
    // here, a third of the client's CPU per claim and release (bench/cluster.bench.ts). Our errors carry our own codes.
    const nc = await connect({ servers: options.servers, name: `coordinator-${options.nodeId}`, maxReconnectAttempts: -1, noAsyncTraces: true, ...(options.connection ?? {}) });
    try {
      const kvm = new Kvm(nc);
      // Nodes starting at once race to create the buckets; the loser of that race opens what the winner made.
      const bucket = async (name: string, ttl?: number): Promise<KvLike> => {
        for (let attempt = 0; ; attempt += 1) {
          try {
            return await kvm.create(`${options.prefix}_${name}`, { history: 1, replicas: options.replicas ?? 1, ...(ttl ? { ttl } : {}) }) as unknown as KvLike;
          } catch (err) {
            if (attempt >= 5 || !/overlap|already in use|exists/i.test((err as Error).message)) throw err;
            await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
          }
        }
      };
      // A task advertisement is a lease: it lapses unless its node rewrites it (every heartbeat).
      const taskLeaseMs = Math.max(options.deadAfterMs, options.heartbeatMs * 3);
      const [channels, encoders, members, reaper, ingests, slots, deliverer, tasks] = await Promise.all([bucket('channels'), bucket('encoders'), bucket('members'), bucket('reaper'), bucket('ingests'), bucket('slots'), bucket('deliverer'), bucket('tasks', taskLeaseMs)]);
      const state = new NatsClusterState(options, nc as unknown as NcLike, channels, encoders, members, reaper, ingests, slots);
      state.tasksKv = tasks;
      state.eventLog = await NatsEventLog.open({
        nc, prefix: options.prefix, nodeId: options.nodeId, delivererKv: deliverer, replicas: options.replicas ?? 1,
        retentionMs: options.eventRetentionMs ?? 7 * 24 * 3_600_000,
        isMember: async (node) => present(await members.get(node)),
        live: () => state.live(),
        connected: () => state.connected,
        isConflict,
      });
      await state.takeSlot();
      state.listen();
      state.watchConnection();
      // The server has our subscription before anyone can route to us.
      await nc.flush();
      await state.join();
      return state;
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  get fenced(): boolean {
    return this.fencedNow;
  }

  /** This node may act: not fenced, not leaving, and its last heartbeat was written within the death timeout. */
  live(): boolean {
    return !this.fencedNow && !this.closing && Date.now() - this.lastBeatOk < this.options.deadAfterMs;
  }

  /** False while the connection to NATS is down (the client reconnects on its own). */
  connected = true;

  private watchConnection(): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type === 'disconnect') this.connected = false;
        else if (status.type === 'reconnect') this.connected = true;
      }
    })().catch(() => undefined);
  }

  private assertLive(): void {
    if (this.fencedNow) throw new CoordinatorError('ERR_SHUTTING_DOWN', `node ${this.nodeId} was declared dead by the cluster and stopped acting`);
    // Refused at once rather than queued until NATS is back (a publish waits for this answer).
    if (!this.connected) throw new CoordinatorError('ERR_PROVIDER_FAILED', 'NATS is out of reach: the cluster state cannot be read or written');
  }

  // ------------------------------------------------------------- routing

  private readonly handlers = new Map<string, (body: unknown) => unknown | Promise<unknown>>();

  private subject(node: string, topic: string): string {
    return `${this.options.prefix}.node.${node}.${topic}`;
  }

  /** One subscription for every request sent to this node. */
  private listen(): void {
    const base = `${this.options.prefix}.node.${this.nodeId}.`;
    this.nc.subscribe(`${base}>`, {
      callback: (err, msg) => {
        if (err) return;
        const handler = this.handlers.get(msg.subject.slice(base.length));
        const answer = (value: unknown) => msg.respond(JSON.stringify(value));
        if (!handler || this.fencedNow) {
          answer({ ok: false, error: this.fencedNow ? 'node fenced' : 'no handler' });
          return;
        }
        let body: unknown;
        try {
          body = JSON.parse(msg.string());
        } catch {
          answer({ ok: false, error: 'unreadable request' });
          return;
        }
        Promise.resolve()
          .then(() => handler(body))
          .then((result) => answer({ ok: true, result }), (error: unknown) => answer({ ok: false, error: (error as Error).message }));
      },
    });
  }

  async request(node: string, topic: string, body: unknown, timeoutMs = 2000): Promise<unknown> {
    this.assertLive();
    let reply: MsgLike;
    try {
      reply = await this.nc.request(this.subject(node, topic), JSON.stringify(body), { timeout: timeoutMs });
    } catch (err) {
      throw new CoordinatorError('ERR_PROVIDER_FAILED', `cluster node ${node} did not answer ${topic}: ${(err as Error).message}`, { cause: err });
    }
    const answer = JSON.parse(reply.string()) as { ok: boolean; result?: unknown; error?: string };
    if (!answer.ok) throw new CoordinatorError('ERR_PROVIDER_FAILED', `cluster node ${node} refused ${topic}: ${answer.error}`);
    return answer.result;
  }

  handle(topic: string, handler: (body: unknown) => unknown | Promise<unknown>): void {
    this.handlers.set(topic, handler);
  }

  // ------------------------------------------------------------- claims

  /** Claims this node won, with their revision: updating or freeing one is one round trip. */
  private readonly held = new Map<string, { streamId: string; revision: number }>();

  async claim(claim: ChannelClaim): Promise<boolean> {
    this.assertLive();
    try {
      const revision = await this.channelsKv.create(claim.channel, JSON.stringify(claim));
      this.held.set(claim.channel, { streamId: claim.streamId, revision });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** The claim's current revision if it is still this stream's (from what we hold, else read). */
  private async revisionOf(channel: string, streamId: string): Promise<number | undefined> {
    const mine = this.held.get(channel);
    if (mine && mine.streamId === streamId) return mine.revision;
    const entry = await this.channelsKv.get(channel);
    if (!present(entry) || (JSON.parse(entry.string()) as ChannelClaim).streamId !== streamId) return undefined;
    return entry.revision;
  }

  async updateClaim(claim: ChannelClaim): Promise<boolean> {
    this.assertLive();
    const revision = await this.revisionOf(claim.channel, claim.streamId);
    if (revision === undefined) return false;
    try {
      const next = await this.channelsKv.update(claim.channel, JSON.stringify(claim), revision);
      if (this.held.get(claim.channel)?.streamId === claim.streamId) this.held.set(claim.channel, { streamId: claim.streamId, revision: next });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async release(channel: string, streamId: string): Promise<boolean> {
    let revision = await this.revisionOf(channel, streamId);
    if (this.held.get(channel)?.streamId === streamId) this.held.delete(channel);
    // What we held may be stale (freed and taken again meanwhile): one more try with what the bucket says.
    for (let attempt = 0; revision !== undefined; attempt += 1) {
      try {
        await this.channelsKv.delete(channel, { previousSeq: revision });
        return true;
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (attempt > 0) return false;
        revision = await this.revisionOf(channel, streamId);
      }
    }
    return false;
  }

  async claimOf(channel: string): Promise<ChannelClaim | undefined> {
    const entry = await this.channelsKv.get(channel);
    return present(entry) ? JSON.parse(entry.string()) as ChannelClaim : undefined;
  }

  async claims(): Promise<ChannelClaim[]> {
    return this.values<ChannelClaim>(this.channelsKv);
  }

  // ------------------------------------------------------------- encoders

  /** Records a node writes about what it holds (encoders, ingest sessions): keyed <node>.<id>, written by that node only. */
  private async putOwned(kv: KvLike, record: { id: number }): Promise<void> {
    this.assertLive();
    await kv.put(`${this.nodeId}.${record.id}`, JSON.stringify({ ...record, node: this.nodeId }));
  }

  async setEncoder(encoder: Omit<EncoderRecord, 'node'>): Promise<void> {
    await this.putOwned(this.encodersKv, encoder);
  }

  async removeEncoder(id: number): Promise<void> {
    await this.encodersKv.delete(`${this.nodeId}.${id}`);
  }

  async encoders(): Promise<EncoderRecord[]> {
    return this.values<EncoderRecord>(this.encodersKv);
  }

  // ------------------------------------------------------------- ingest sessions

  async setIngest(ingest: Omit<IngestRecord, 'node'>): Promise<void> {
    await this.putOwned(this.ingestsKv, ingest);
  }

  async removeIngest(id: number): Promise<void> {
    await this.ingestsKv.delete(`${this.nodeId}.${id}`);
  }

  async ingests(): Promise<IngestRecord[]> {
    return this.values<IngestRecord>(this.ingestsKv);
  }

  // ------------------------------------------------------------- tasks served (acomm federation)

  tasksKv: KvLike | undefined;
  private advertised: string | undefined;

  async advertiseTasks(url: string, tasks: string[]): Promise<void> {
    this.advertised = JSON.stringify({ node: this.nodeId, url, tasks });
    await this.writeAdvertisement();
  }

  private async writeAdvertisement(): Promise<void> {
    if (!this.advertised || !this.tasksKv || !this.live()) return;
    await this.tasksKv.put(this.nodeId, this.advertised);
  }

  async taskPeers(): Promise<TaskPeer[]> {
    if (!this.tasksKv) return [];
    return (await this.values<TaskPeer>(this.tasksKv)).filter((p) => p.node !== this.nodeId);
  }

  /** The first free slot number, taken by a create (two nodes never hold one slot). */
  private async takeSlot(): Promise<void> {
    for (let slot = 1; slot <= 4095; slot += 1) {
      try {
        await this.slotsKv.create(`s${slot}`, this.nodeId);
        this.slot = slot;
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    throw new CoordinatorError('ERR_CONFIG', 'no free cluster slot: more than 4,095 coordinators on one cluster prefix');
  }

  /** What a node wrote about itself (encoders, ingest sessions, its slot), removed once it is gone. */
  private async forget(node: string): Promise<void> {
    await this.tasksKv?.delete(node).catch(() => undefined);
    for (const kv of [this.encodersKv, this.ingestsKv]) {
      for await (const key of await kv.keys(`${node}.>`)) await kv.delete(key).catch(() => undefined);
    }
    for await (const key of await this.slotsKv.keys()) {
      const entry = await this.slotsKv.get(key);
      if (present(entry) && entry.string() === node) await this.slotsKv.delete(key, { previousSeq: entry.revision }).catch(() => undefined);
    }
  }

  /**
   * Every live value of a bucket. The client's key listing hands a key out
   * twice when the bucket changes while it lists, and only ends on the
   * server's say: keys are deduplicated, the listing is bounded in time, and
   * each value is read afresh (in parallel).
   */
  private async values<T>(kv: KvLike, filter?: string): Promise<T[]> {
    const keys = new Set<string>();
    const listing = await kv.keys(filter);
    const collect = async () => { for await (const key of listing) keys.add(key); };
    await within(collect(), Math.max(LISTING_TIMEOUT_MS, this.options.deadAfterMs)).catch((err: unknown) => {
      listing.stop?.();
      throw new CoordinatorError('ERR_PROVIDER_FAILED', `cluster state listing did not complete: ${(err as Error).message}`, { cause: err });
    });
    const entries = await Promise.all([...keys].map((key) => kv.get(key)));
    return entries.filter(present).map((entry) => JSON.parse(entry.string()) as T);
  }

  // ------------------------------------------------------------- membership

  private async join(): Promise<void> {
    const value = JSON.stringify({ node: this.nodeId, startedAt: this.startedAt });
    this.revision = await this.membersKv.put(this.nodeId, value);
    this.lastBeatOk = Date.now();
    const tick = () => {
      this.beating = this.beat().finally(() => { this.beating = undefined; });
    };
    this.heartbeatTimer = setInterval(() => { if (!this.beating) tick(); }, this.options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** One heartbeat: write our key on its revision, then look for dead members. */
  private async beat(): Promise<void> {
    if (this.fencedNow || this.closing) return;
    // NATS out of reach: nothing can be written; past the death timeout the others have declared us dead.
    if (!this.connected) {
      if (Date.now() - this.lastBeatOk > this.options.deadAfterMs) this.fence();
      return;
    }
    try {
      this.revision = await this.membersKv.update(this.nodeId, JSON.stringify({ node: this.nodeId, startedAt: this.startedAt }), this.revision);
      this.lastBeatOk = Date.now();
      this.eventLog?.tick();
      void this.writeAdvertisement().catch(() => undefined);
    } catch (err) {
      // Someone deleted our key (we were declared dead), or NATS has been out of reach too long: stop acting.
      if (isConflict(err) || Date.now() - this.lastBeatOk > this.options.deadAfterMs) this.fence();
      return;
    }
    // Bounded: a listing that never completes must not stop the heartbeats (the others would declare us dead).
    await within(this.findDead(), this.options.deadAfterMs).catch(() => undefined);
  }

  private fence(): void {
    if (this.fencedNow) return;
    this.fencedNow = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.eventLog?.tick(); // no longer live: stops delivering callbacks
    for (const listener of this.fencedListeners) {
      try { listener(); } catch { /* a listener's failure does not stop the others */ }
    }
  }

  /** Members whose key the server last wrote more than deadAfterMs before our own last write are dead; one survivor reaps each. */
  private async findDead(): Promise<void> {
    const own = await this.membersKv.get(this.nodeId);
    if (!present(own)) return;
    const serverNow = own.created.getTime();
    for await (const node of await this.membersKv.keys()) {
      if (node === this.nodeId) continue;
      const entry = await this.membersKv.get(node);
      if (!present(entry) || serverNow - entry.created.getTime() <= this.options.deadAfterMs) continue;
      // Exactly one survivor wins the right to clean up after this incarnation of the node.
      try {
        await this.reaperKv.create(`${node}.${entry.revision}`, this.nodeId);
      } catch (err) {
        if (isConflict(err)) continue;
        throw err;
      }
      try {
        // It may have come back meanwhile: then its key moved on and it is not dead.
        await this.membersKv.delete(node, { previousSeq: entry.revision });
      } catch (err) {
        if (isConflict(err)) continue;
        throw err;
      }
      await this.forget(node).catch(() => undefined);
      for (const listener of this.deadListeners) await Promise.resolve(listener(node)).catch(() => undefined);
    }
  }

  async members(): Promise<Member[]> {
    return this.values<Member>(this.membersKv);
  }

  onMemberDead(listener: (node: string) => void | Promise<void>): void {
    this.deadListeners.push(listener);
  }

  onFenced(listener: () => void): void {
    this.fencedListeners.push(listener);
  }

  /** For tests of failure: stop heartbeats as a frozen process would, without leaving. */
  pauseHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** For tests of failure: heartbeats again, as a process resumed after SIGSTOP. */
  resumeHeartbeats(): void {
    if (this.heartbeatTimer || this.fencedNow) return;
    this.heartbeatTimer = setInterval(() => { if (!this.beating) this.beating = this.beat().finally(() => { this.beating = undefined; }); }, this.options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /**
   * Leave cleanly: the channels this node still holds are freed and its
   * encoders removed (nobody reaps a node that left), its member key goes,
   * then the connection drains.
   */
  async close(): Promise<void> {
    // Every step is bounded: leaving never hangs on NATS (what is left undone, a survivor's reaper does).
    await within(this.eventLog?.stop() ?? Promise.resolve(), this.options.deadAfterMs).catch(() => undefined);
    this.closing = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await within(this.beating ?? Promise.resolve(), this.options.heartbeatMs * 2).catch(() => undefined);
    if (!this.fencedNow) {
      const leave = async () => {
        for (const claim of await this.claims().catch(() => [])) {
          if (claim.node === this.nodeId) await this.release(claim.channel, claim.streamId).catch(() => false);
        }
        await this.forget(this.nodeId).catch(() => undefined);
        await this.tasksKv?.delete(this.nodeId).catch(() => undefined);
        await this.membersKv.delete(this.nodeId, { previousSeq: this.revision }).catch(() => undefined);
      };
      await within(leave(), this.options.deadAfterMs).catch(() => undefined);
    }
    await within(this.nc.drain(), this.options.deadAfterMs).catch(() => this.nc.close().catch(() => undefined));
  }
}
