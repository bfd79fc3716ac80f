// How the streaming control plane takes part in a cluster of coordinators
// (the cluster plugin with the nats engine): a publish must also win its
// channel cluster-wide, the claim is freed when the stream ends, the close
// command reaches the node holding the publisher, a dead node's streams are
// ended once by the survivor that reaps it, and a fenced node closes its
// control sessions so that their peers re-dial a live node.
//
// Without the cluster plugin, or with the embedded engine, nothing here runs:
// the control plane's own Maps are the whole truth, as before.

import type { Logger } from '../../core/logger.js';
import type { Coordinator } from '../../core/runtime.js';
import type { ClusterState } from '../cluster/index.js';
import { reportOf, type Channel, type ControlPlane, type EncodeStart, type RemoteStream, type StreamingReport } from './control-plane.js';
import { totalsOf, type EncoderTotals } from './encoder-pool.js';

export type ClaimVerdict = 'ok' | 'taken' | 'unavailable';

const KILL_TOPIC = 'stream-kill';
const ENCODE_START_TOPIC = 'encode-start';
const ENCODE_STOP_TOPIC = 'encode-stop';
const STREAM_ENDED_TOPIC = 'stream-ended';
/** Encoders on other coordinators asked in turn for one publish, at most. */
const MAX_REMOTE_TRIES = 4;
export class ClusterLink {
  private constructor(
    private readonly state: ClusterState,
    private readonly plane: ControlPlane,
    private readonly log: Logger,
    private readonly streamClosed: (channel: string, streamId: string) => Promise<void>,
  ) {}

  /** The link when this coordinator shares state with others (the nats engine), else undefined. */
  static connect(runtime: Coordinator, plane: ControlPlane, log: Logger, streamClosed: (channel: string, streamId: string) => Promise<void>, onFenced: () => void): ClusterLink | undefined {
    const state = runtime.optionalService('cluster.state');
    let engine: string | undefined;
    try {
      engine = state?.engine;
    } catch {
      return undefined; // the cluster plugin did not start
    }
    if (!state || engine !== 'nats') return undefined;
    const link = new ClusterLink(state, plane, log, streamClosed);
    state.handle(KILL_TOPIC, (body) => {
      const { channel, streamId } = body as { channel: string; streamId: string };
      return plane.kill(channel, streamId);
    });
    state.handle(ENCODE_START_TOPIC, (body) => {
      const { node, encoder, start } = body as { node: string; encoder: number; start: EncodeStart };
      return plane.startRemote(node, encoder, start);
    });
    state.handle(ENCODE_STOP_TOPIC, (body) => {
      const { channel, streamId } = body as { channel: string; streamId: string };
      return plane.stopRemote(channel, streamId);
    });
    state.handle(STREAM_ENDED_TOPIC, (body) => {
      const { channel, streamId, node } = body as { channel: string; streamId: string; node: string };
      return plane.endedByRemoteEncoder(channel, streamId, node);
    });
    state.onMemberDead((node) => link.reap(node));
    state.onFenced(onFenced);
    log.info({ node: state.nodeId }, 'streaming control plane joined the cluster: channels are claimed cluster-wide');
    return link;
  }

  get nodeId(): string {
    return this.state.nodeId;
  }

  /** A session id unique in the cluster: this node's slot in the millions, then its own counter. */
  sessionId(counter: number): number {
    return this.state.slot * 1_000_000 + (counter % 1_000_000);
  }

  // ------------------------------------------------------------- what this node holds, for the others

  ingestOpened(session: { id: number; ip: string; port: number; ssl: boolean; serverType: string }): void {
    void this.state.setIngest(session).catch((err: unknown) => this.log.debug({ session: session.id, err: (err as Error).message }, 'ingest session not shared'));
  }

  ingestClosed(id: number): void {
    void this.state.removeIngest(id).catch(() => undefined);
  }

  private dirtyEncoders = new Set<number>();

  /** Encoder `id` changed (registered, load, drained, gone): what changed in one turn is written once. */
  encoderChanged(id: number): void {
    if (this.dirtyEncoders.size === 0) setImmediate(() => this.writeEncoders());
    this.dirtyEncoders.add(id);
  }

  private writeEncoders(): void {
    const ids = this.dirtyEncoders;
    this.dirtyEncoders = new Set();
    for (const id of ids) {
      const encoder = this.plane.encoders.get(id);
      void (encoder ? this.state.setEncoder(encoder) : this.state.removeEncoder(id)).catch(() => undefined);
    }
  }

  // ------------------------------------------------------------- the commands API, for the whole cluster

  async capacity(): Promise<EncoderTotals> {
    return totalsOf(await this.state.encoders());
  }

  async report(): Promise<StreamingReport> {
    const [ingests, encoders, claims] = await Promise.all([this.state.ingests(), this.state.encoders(), this.state.claims()]);
    return reportOf(ingests, encoders, claims.map((c) => ({ channel: c.channel, streamId: c.streamId, streamServer: c.session, encoder: c.encoder ?? 0 })));
  }

  /** Win the channel cluster-wide for this publish (the local open already succeeded). */
  async claim(channel: Channel): Promise<ClaimVerdict> {
    try {
      return await this.state.claim({ channel: channel.name, streamId: channel.streamId, node: this.state.nodeId, session: channel.publisher }) ? 'ok' : 'taken';
    } catch (err) {
      this.log.warn({ channel: channel.name, err: (err as Error).message }, 'cluster state unavailable: publish denied');
      return 'unavailable';
    }
  }

  /**
   * No encoder here has room: ask the coordinators holding encoders that do
   * (least loaded first, as their owners last wrote them). The owner takes the
   * slot only if the encoder still has room (it alone writes its load), and
   * sends ENCODE-START itself.
   */
  async startOnRemoteEncoder(channel: Channel): Promise<{ encoder: number; node: string } | undefined> {
    let candidates;
    try {
      candidates = (await this.state.encoders())
        .filter((e) => e.node !== this.state.nodeId && !e.draining && (e.capacity < 0 || e.load < e.capacity))
        .sort((a, b) => a.load - b.load || a.id - b.id);
    } catch (err) {
      this.log.warn({ channel: channel.name, err: (err as Error).message }, 'cluster encoders unreadable: no encoder on another coordinator');
      return undefined;
    }
    const start: EncodeStart = { channel: channel.name, streamId: channel.streamId, method: channel.method, sourceUri: channel.sourceUri, settings: channel.settings };
    for (const candidate of candidates.slice(0, MAX_REMOTE_TRIES)) {
      try {
        if (await this.state.request(candidate.node, ENCODE_START_TOPIC, { node: this.state.nodeId, encoder: candidate.id, start }) === true) {
          return { encoder: candidate.id, node: candidate.node };
        }
      } catch (err) {
        this.log.debug({ channel: channel.name, node: candidate.node, err: (err as Error).message }, 'encoder on another coordinator not reached');
      }
    }
    return undefined;
  }

  /** The publish of a channel encoded on another coordinator ended here: ENCODE-STOP there. */
  remoteEncodeStop(channel: Channel): void {
    if (channel.encoderNode === undefined) return;
    const node = channel.encoderNode;
    void this.state.request(node, ENCODE_STOP_TOPIC, { channel: channel.name, streamId: channel.streamId })
      .catch((err: unknown) => this.log.warn({ channel: channel.name, node, err: (err as Error).message }, 'ENCODE-STOP did not reach the coordinator holding the encoder; its reaper frees the slot if it died'));
  }

  /** A stream encoded here for another coordinator's publish ended: that coordinator kills its publisher. */
  remoteStreamEnded(stream: RemoteStream): void {
    void this.state.request(stream.node, STREAM_ENDED_TOPIC, { channel: stream.channel, streamId: stream.streamId, node: this.state.nodeId })
      .catch((err: unknown) => this.log.warn({ channel: stream.channel, node: stream.node, err: (err as Error).message }, 'the coordinator holding the publisher did not hear that its stream ended'));
  }

  /** The encoder chosen, recorded with the claim (for the cluster's view of the stream). */
  encoderChosen(channel: Channel): void {
    if (channel.encoder === undefined) return;
    void this.state.updateClaim({ channel: channel.name, streamId: channel.streamId, node: this.state.nodeId, session: channel.publisher, encoderNode: channel.encoderNode ?? this.state.nodeId, encoder: channel.encoder })
      .catch((err: unknown) => this.log.debug({ channel: channel.name, err: (err as Error).message }, 'claim update failed'));
  }

  /** The stream ended here: free its claim (only if it is still this stream's). */
  released(channel: Channel): void {
    void this.state.release(channel.name, channel.streamId)
      .catch((err: unknown) => this.log.warn({ channel: channel.name, err: (err as Error).message }, 'cluster claim not freed; the reaper frees it if this node dies'));
  }

  /** The close command for a channel this node does not hold: ask the node that does. */
  async killRemote(channel: string, streamId: string): Promise<boolean> {
    const claim = await this.state.claimOf(channel).catch(() => undefined);
    if (!claim || claim.node === this.state.nodeId) return false;
    try {
      return await this.state.request(claim.node, KILL_TOPIC, { channel, streamId }) === true;
    } catch (err) {
      this.log.warn({ channel, node: claim.node, err: (err as Error).message }, 'close command did not reach the node holding the publisher');
      return false;
    }
  }

  /**
   * A node died and this one won its clean-up. Every stream whose publisher
   * or encoder was on it is over: its channel is freed, a live encoder gets
   * ENCODE-STOP, a live publisher STREAM-KILL, and the application hears
   * stream-closed (once: the callbacks' guard).
   */
  private async reap(node: string): Promise<void> {
    const claims = (await this.state.claims()).filter((c) => c.node === node || c.encoderNode === node);
    const closed = (claim: { channel: string; streamId: string }) => this.streamClosed(claim.channel, claim.streamId)
      .catch((err: unknown) => this.log.error({ channel: claim.channel, err }, 'stream-closed for a dead node\'s stream failed'));
    for (const claim of claims) {
      if (claim.node === node) {
        if (!await this.state.release(claim.channel, claim.streamId).catch(() => false)) continue;
        if (claim.encoderNode !== undefined && claim.encoderNode !== node) {
          await this.state.request(claim.encoderNode, ENCODE_STOP_TOPIC, { channel: claim.channel, streamId: claim.streamId }).catch(() => undefined);
        }
        await closed(claim);
      } else {
        // Its encoder died: the publisher's coordinator kills the publisher and frees the channel.
        await closed(claim);
        await this.state.request(claim.node, STREAM_ENDED_TOPIC, { channel: claim.channel, streamId: claim.streamId, node }).catch((err: unknown) => {
          this.log.warn({ channel: claim.channel, node: claim.node, err: (err as Error).message }, 'the publisher of a stream whose encoder died was not reached');
        });
      }
    }
    this.log.warn({ node, streams: claims.length }, 'cleaned up after a dead cluster node: its channels are free, its streams closed');
  }
}
