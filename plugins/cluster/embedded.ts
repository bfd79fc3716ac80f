// The embedded engine: one process is the whole cluster. State in memory,
// no dependency; what the coordinator did before scale-out existed.

import { CoordinatorError } from '../../core/errors.js';
import type { ChannelClaim, ClusterState, EncoderRecord, IngestRecord, Member, TaskPeer } from './types.js';

export class EmbeddedClusterState implements ClusterState {
  readonly engine = 'embedded' as const;
  readonly fenced = false;
  /** One process: callbacks stay in event-callbacks' own SQLite outbox. */
  readonly eventLog = undefined;
  private readonly channels = new Map<string, ChannelClaim>();
  private readonly encoderRecords = new Map<number, EncoderRecord>();
  private readonly startedAt = Date.now();

  constructor(readonly nodeId = 'embedded') {}

  async claim(claim: ChannelClaim): Promise<boolean> {
    if (this.channels.has(claim.channel)) return false;
    this.channels.set(claim.channel, { ...claim });
    return true;
  }

  async updateClaim(claim: ChannelClaim): Promise<boolean> {
    const held = this.channels.get(claim.channel);
    if (!held || held.streamId !== claim.streamId) return false;
    this.channels.set(claim.channel, { ...claim });
    return true;
  }

  async release(channel: string, streamId: string): Promise<boolean> {
    const held = this.channels.get(channel);
    if (!held || held.streamId !== streamId) return false;
    this.channels.delete(channel);
    return true;
  }

  async claimOf(channel: string): Promise<ChannelClaim | undefined> {
    const held = this.channels.get(channel);
    return held ? { ...held } : undefined;
  }

  async claims(): Promise<ChannelClaim[]> {
    return [...this.channels.values()].map((c) => ({ ...c }));
  }

  async setEncoder(encoder: Omit<EncoderRecord, 'node'>): Promise<void> {
    this.encoderRecords.set(encoder.id, { ...encoder, node: this.nodeId });
  }

  async removeEncoder(id: number): Promise<void> {
    this.encoderRecords.delete(id);
  }

  async encoders(): Promise<EncoderRecord[]> {
    return [...this.encoderRecords.values()].map((e) => ({ ...e }));
  }

  readonly slot = 0;
  private readonly ingestRecords = new Map<number, IngestRecord>();

  async setIngest(ingest: Omit<IngestRecord, 'node'>): Promise<void> {
    this.ingestRecords.set(ingest.id, { ...ingest, node: this.nodeId });
  }

  async removeIngest(id: number): Promise<void> {
    this.ingestRecords.delete(id);
  }

  async ingests(): Promise<IngestRecord[]> {
    return [...this.ingestRecords.values()].map((i) => ({ ...i }));
  }

  async members(): Promise<Member[]> {
    return [{ node: this.nodeId, startedAt: this.startedAt }];
  }

  private readonly handlers = new Map<string, (body: unknown) => unknown | Promise<unknown>>();

  async request(node: string, topic: string, body: unknown): Promise<unknown> {
    const handler = node === this.nodeId ? this.handlers.get(topic) : undefined;
    if (!handler) throw new CoordinatorError('ERR_PROVIDER_FAILED', `no cluster node ${node} answers ${topic}`);
    return handler(body);
  }

  handle(topic: string, handler: (body: unknown) => unknown | Promise<unknown>): void {
    this.handlers.set(topic, handler);
  }

  async advertiseTasks(): Promise<void> {
    // One process: no other node to forward to.
  }

  async taskPeers(): Promise<TaskPeer[]> {
    return [];
  }

  onMemberDead(): void {
    // One process: no other member can die.
  }

  onFenced(): void {
    // One process: nobody can declare it dead.
  }

  async close(): Promise<void> {
    this.channels.clear();
    this.encoderRecords.clear();
  }
}
