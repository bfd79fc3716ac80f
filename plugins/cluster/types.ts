// The state several coordinators share when they act as one streaming
// cluster (see docs/scale-out.md), behind one small interface with two
// engines: `embedded` (one process, in memory, the default) and `nats`
// (NATS JetStream key-value buckets, loaded only when configured).

/** One publish's hold on a channel, cluster-wide. */
export interface ChannelClaim {
  channel: string;
  streamId: string;
  /** The node holding the publisher's control session, and that session. */
  node: string;
  session: number;
  /** The encoder chosen, once chosen: its node and session. */
  encoderNode?: string;
  encoder?: number;
}

/** An encoder as its owner (the node holding its socket) last wrote it. */
export interface EncoderRecord {
  node: string;
  id: number;
  capacity: number;
  load: number;
  draining: boolean;
}

/** An ingest server's control session as its owner wrote it (for the cluster-wide report). */
export interface IngestRecord {
  node: string;
  id: number;
  ip: string;
  port: number;
  ssl: boolean;
  serverType: string;
}

/** A coordinator that serves tasks with its own providers, and where other coordinators forward requests for them. */
export interface TaskPeer {
  node: string;
  /** Its HTTP ingress (a federation taskURL). */
  url: string;
  tasks: string[];
}

export interface Member {
  node: string;
  startedAt: number;
}

export type LoggedEventType = 'stream-available' | 'stream-closed';

/** One application callback as the cluster's event log holds it. */
export interface LoggedEvent {
  /** Stable across retries and redeliveries (x-delivery-id); also the log's message id. */
  deliveryId: string;
  channel: string;
  streamId: string;
  /** Per-stream sequence number (x-event-sequence), from 1. */
  seq: number;
  type: LoggedEventType;
  /** Event headers (x-…), without Authorization or signature. */
  headers: Record<string, string>;
  createdAt: number;
  /** Where the event sits in the log (rising with each append), when known. */
  position?: number;
}

/**
 * The cluster's durable, per-stream ordered queue of application callbacks
 * (the nats engine: a JetStream stream). Every node appends; one node at a
 * time (the deliverer) consumes, and another takes over from where it had
 * got to when it dies.
 */
export interface EventLog {
  /**
   * Append an event to its stream's queue: the guard (stream-closed once per
   * stream, and only after a stream-available), the per-stream sequence
   * number and the enqueue are one atomic append. Resolves once stored;
   * undefined when the guard refuses the event.
   */
  append(type: LoggedEventType, channel: string, streamId: string, headers: Record<string, string>): Promise<LoggedEvent | undefined>;
  /**
   * Deliver events while this node is the deliverer: `deliver` is called for
   * each event, in order per stream, for at most `concurrency` streams at
   * once, and resolves once the event is delivered or dead-lettered; it
   * should give up (reject) when `current()` turns false (another node took over).
   */
  consume(deliver: (event: LoggedEvent, current: () => boolean) => Promise<void>, options: { concurrency: number }): void;
  /** Keep an event that cannot be delivered, counted, until reviveDeadLetters. */
  deadLetter(event: LoggedEvent, error: string): Promise<void>;
  /** Dead letters back into their streams' queues (oldest first), with their delivery id and sequence number. */
  reviveDeadLetters(limit: number): Promise<number>;
  /** The position through which every event has been delivered or dead-lettered, cluster-wide (the deliverer's floor). */
  deliveredThrough(): Promise<number>;
  /** What the log holds (refreshed in the background: readable at once). */
  stats(): EventLogStats;
  /** Stop consuming (deliveries under way finish or give up). */
  stop(): Promise<void>;
}

export interface EventLogStats {
  /** Events appended and not yet delivered (at most; purged ones are counted until the floor passes them). */
  depth: number;
  deadLetters: number;
  /** The node delivering callbacks now ('' when none). */
  deliverer: string;
  /** Events this node holds in memory while delivering. */
  inMemory: number;
  /** The last position this node has read while delivering (0: not delivering). */
  received: number;
}

export interface ClusterState {
  readonly engine: 'embedded' | 'nats';
  readonly nodeId: string;
  /** Take a channel for a publish: false when another publish holds it anywhere in the cluster (atomic). */
  claim(claim: ChannelClaim): Promise<boolean>;
  /** Change a claim this stream holds (the encoder chosen); false when the claim is no longer this stream's. */
  updateClaim(claim: ChannelClaim): Promise<boolean>;
  /** Free a channel if it is still held by this stream; false otherwise. */
  release(channel: string, streamId: string): Promise<boolean>;
  claimOf(channel: string): Promise<ChannelClaim | undefined>;
  claims(): Promise<ChannelClaim[]>;
  /** Write an encoder this node holds (only its owner writes it). */
  setEncoder(encoder: Omit<EncoderRecord, 'node'>): Promise<void>;
  removeEncoder(id: number): Promise<void>;
  /** Every node's encoders. */
  encoders(): Promise<EncoderRecord[]>;
  /** Write an ingest session this node holds (only its owner writes it). */
  setIngest(ingest: Omit<IngestRecord, 'node'>): Promise<void>;
  removeIngest(id: number): Promise<void>;
  /** Every node's ingest sessions. */
  ingests(): Promise<IngestRecord[]>;
  /**
   * This node's slot in the cluster (1, 2, …; unique among live nodes), for
   * ids that must not collide across nodes (session ids).
   */
  readonly slot: number;
  members(): Promise<Member[]>;
  /**
   * A node was found dead (heartbeats stopped for longer than the death
   * timeout, judged by server timestamps): called on exactly one survivor,
   * which cleans up after it.
   */
  onMemberDead(listener: (node: string) => void | Promise<void>): void;
  /** This node was declared dead by the others (its heartbeat could not be written): it must stop acting. */
  onFenced(listener: () => void): void;
  /**
   * Ask `node` to act (e.g. send STREAM-KILL on a socket it holds) and return
   * its handler's answer; rejects when no such node answers in time.
   */
  request(node: string, topic: string, body: unknown, timeoutMs?: number): Promise<unknown>;
  /** Answer the requests of `topic` sent to this node. */
  handle(topic: string, handler: (body: unknown) => unknown | Promise<unknown>): void;
  /** Tell the cluster which tasks this node serves and where (a lease: rewritten periodically, gone when it stops or dies). */
  advertiseTasks(url: string, tasks: string[]): Promise<void>;
  /** Every other node's advertised tasks. */
  taskPeers(): Promise<TaskPeer[]>;
  /** The cluster's callback queue (the nats engine); undefined on the embedded engine, whose callbacks live in event-callbacks' own outbox. */
  readonly eventLog: EventLog | undefined;
  /** True once this node is fenced. */
  readonly fenced: boolean;
  close(): Promise<void>;
}
