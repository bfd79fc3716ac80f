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

export interface Member {
  node: string;
  startedAt: number;
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
  /** True once this node is fenced. */
  readonly fenced: boolean;
  close(): Promise<void>;
}
