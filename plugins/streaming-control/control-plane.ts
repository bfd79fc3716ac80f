// The streaming control plane's state: control sessions (ingest servers and
// HLS encoders), open channels and encoder load, and what each message does
// to them. Publishing itself goes through the runtime's pipeline (see index.ts);
// this class holds the state and the protocol's reactions.

import net from 'node:net';
import type { Logger } from '../../core/logger.js';
import { arg, serializeMessage, type ControlMessage } from './messages.js';
import { EncoderPool } from './encoder-pool.js';
import type { ControlRole } from './control-auth.js';
import type { StreamSettings } from '../key-auth/index.js';

export type IngestType = 'RTMP' | 'WS';

export interface Session {
  readonly id: number;
  readonly role: ControlRole;
  /** The peer's address (IPv4-mapped IPv6 unwrapped). */
  readonly remoteIp: string;
  /** Ingest sessions: where encoders reach them. */
  readonly externalIp: string;
  readonly port: number;
  readonly ssl: boolean;
  /** Channels this session publishes or encodes. */
  readonly channels: Set<string>;
  /** When the control connection opened (ms since the epoch). */
  readonly connectedAt: number;
  alive: boolean;
  send(text: string): void;
}

export interface Channel {
  readonly name: string;
  readonly publisher: number;
  readonly method: IngestType;
  readonly streamId: string;
  encoder: number | undefined;
  /** The coordinator holding the encoder's socket, when it is another one (a cluster); undefined: this one. */
  encoderNode?: string;
  sourceUri: string;
  settings: StreamSettings;
  /** When the publish was accepted (ms since the epoch). */
  readonly startedAt: number;
  /** Sub-streams the encoder announced (STREAM-AVAILABLE), at most MAX_SUBSTREAMS. */
  readonly substreams: Substream[];
}

/** A stream this coordinator encodes for a publish that another coordinator holds (a cluster). */
export interface RemoteStream {
  readonly channel: string;
  readonly streamId: string;
  /** The encoder's session here. */
  readonly encoder: number;
  /** The coordinator holding the publisher. */
  readonly node: string;
}

/** What an encoder needs to start a stream (ENCODE-START's arguments). */
export interface EncodeStart {
  channel: string;
  streamId: string;
  method: IngestType;
  sourceUri: string;
  settings: StreamSettings;
}

export interface Substream {
  type: string;
  resolution: string;
  at: number;
}

/** Sub-streams remembered per channel for the console (an encoder decides how many it announces). */
export const MAX_SUBSTREAMS = 16;

/** What the console shows of the control plane: more than the Go-compatible report. */
export interface ControlPlaneDetails {
  ingestServers: Array<{ id: number; type: IngestType; ip: string; port: number; ssl: boolean; connectedAt: number; streams: number }>;
  encoders: Array<{ id: number; ip: string; capacity: number; load: number; draining: boolean; connectedAt: number }>;
  streams: Array<{ channel: string; streamId: string; method: IngestType; startedAt: number; streamServer: number; encoder: number; substreams: Substream[] }>;
}

export interface ControlPlaneEvents {
  streamAvailable(data: { channel: string; streamId: string; streamType: string; resolution: string; indexFile: string; startTime?: string }): Promise<void>;
  streamClosed(data: { channel: string; streamId: string }): Promise<void>;
  capacityFreed(): void;
  /** A channel was closed here (its claim elsewhere may be freed). */
  channelClosed?(channel: Channel): void;
  /** Encoder `id` registered, took or released a stream, was drained, or left. */
  encoderChanged?(id: number): void;
  /** A channel whose encoder is on another coordinator ended here: ENCODE-STOP must be sent there. */
  remoteEncodeStop?(channel: Channel): void;
  /** A stream encoded here for another coordinator's publish ended here (the encoder closed it or left): its publisher must be killed there. */
  remoteStreamEnded?(stream: RemoteStream): void;
}

export interface ControlPlaneOptions {
  /** Move an encoder's streams to another encoder when it disconnects (instead of closing them). */
  reassignOnEncoderLoss: boolean;
  log: Logger;
  /** Log every message in and out (stream keys redacted). */
  logMessages: boolean;
}

const DEFAULT_PORT: Record<IngestType, number> = { RTMP: 1935, WS: 80 };

export function ingestTypeOf(role: ControlRole): IngestType {
  return role === 'rtmp' ? 'RTMP' : 'WS';
}

/** x-external-ip: a literal IP (no brackets, port or zone), kept as sent; else the connection's address. */
export function externalIpOf(header: string | undefined, remoteIp: string): string {
  if (header && !header.includes('%') && net.isIP(header) !== 0) return header;
  return remoteIp;
}

/** x-custom-port: Go Atoi syntax; outside 1–65535 falls back too (it would point encoders anywhere). */
export function portOf(header: string | undefined, type: IngestType): number {
  if (header !== undefined && /^[+-]?\d+$/.test(header)) {
    const port = Number.parseInt(header, 10);
    if (port >= 1 && port <= 65535) return port;
  }
  return DEFAULT_PORT[type];
}

export function sourceUri(session: Session, type: IngestType, channel: string, key: string): string {
  const scheme = type === 'RTMP' ? (session.ssl ? 'rtmps' : 'rtmp') : (session.ssl ? 'wss' : 'ws');
  const host = session.externalIp.includes(':') ? `[${session.externalIp}]` : session.externalIp;
  return `${scheme}://${host}:${session.port}/${channel}/${key}`;
}

/**
 * A message for the debug log with its secrets out: each argument line is
 * judged by its parsed name (trimmed, any case), as parseMessage reads it, so
 * no spelling that the parser accepts can carry a key into the log.
 */
export function redact(text: string): string {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '').toLowerCase();
    if (name === 'stream-key') lines[i] = `${line.slice(0, colon + 1)}[redacted]`;
    else if (name === 'stream-source-uri') lines[i] = line.replace(/\/[^/]*$/, '/[redacted]');
  }
  return lines.join('\n');
}

export interface ReportedServer {
  id: number;
  ip: string;
  port: number;
  ssl: boolean;
  serverType: string;
}

export interface ReportedStream {
  channel: string;
  streamId: string;
  streamServer: number;
  encoder: number;
}

/** The report command's body, as the original shaped it. */
export interface StreamingReport {
  streamingServers: ReportedServer[];
  encoders: Array<{ id: number; capacity: number; load: number }>;
  activeStreams: ReportedStream[];
}

/** The report of any set of ingest servers, encoders and streams (this node's, or a cluster's): by id, RTMP servers first, as the original grouped them. */
export function reportOf(servers: ReportedServer[], encoders: Array<{ id: number; capacity: number; load: number }>, streams: ReportedStream[]): StreamingReport {
  const byId = <T extends { id: number }>(items: T[]) => items.sort((a, b) => a.id - b.id);
  const server = (s: ReportedServer): ReportedServer => ({ id: s.id, ip: s.ip, port: s.port, ssl: s.ssl, serverType: s.serverType });
  return {
    streamingServers: [...byId(servers.filter((s) => s.serverType === 'RTMP')), ...byId(servers.filter((s) => s.serverType !== 'RTMP'))].map(server),
    encoders: byId([...encoders]).map((e) => ({ id: e.id, capacity: e.capacity, load: e.load })),
    activeStreams: streams,
  };
}

export class ControlPlane {
  readonly sessions = new Map<number, Session>();
  readonly channels = new Map<string, Channel>();
  readonly encoders = new EncoderPool();
  /** Streams encoded here for publishes other coordinators hold, by channel. */
  readonly remoteStreams = new Map<string, RemoteStream>();

  constructor(private readonly options: ControlPlaneOptions, private readonly events: ControlPlaneEvents) {}

  send(session: Session | undefined, type: string, args: Record<string, string> = {}): void {
    if (!session?.alive) return;
    const text = serializeMessage(type, args);
    if (this.options.logMessages) this.options.log.debug({ session: session.id, out: redact(text) }, 'control message out');
    session.send(text);
  }

  logIncoming(session: Session, text: string): void {
    if (this.options.logMessages) this.options.log.debug({ session: session.id, in: redact(text) }, 'control message in');
  }

  add(session: Session): void {
    this.sessions.set(session.id, session);
  }

  // ------------------------------------------------------- channel life

  /** Open a channel for a publish (atomic with the busy check: no await in between). */
  open(channel: Omit<Channel, 'encoder' | 'startedAt' | 'substreams'>): boolean {
    if (this.channels.has(channel.name)) return false;
    // Every field written here, in one order (one object shape for every channel; no copy of the argument).
    this.channels.set(channel.name, {
      name: channel.name, publisher: channel.publisher, method: channel.method, streamId: channel.streamId,
      encoder: undefined, encoderNode: undefined, sourceUri: channel.sourceUri, settings: channel.settings,
      startedAt: Date.now(), substreams: [],
    });
    this.sessions.get(channel.publisher)?.channels.add(channel.name);
    return true;
  }

  /** The channel's encoder: one here, or (node set) one another coordinator holds and started. */
  assignEncoder(channel: Channel, encoderId: number, node?: string): void {
    channel.encoder = encoderId;
    channel.encoderNode = node;
    if (node !== undefined) return;
    this.sessions.get(encoderId)?.channels.add(channel.name);
    this.events.encoderChanged?.(encoderId);
  }

  encodeStart(channel: Channel): void {
    this.sendEncodeStart(this.sessions.get(channel.encoder ?? -1), { channel: channel.name, streamId: channel.streamId, method: channel.method, sourceUri: channel.sourceUri, settings: channel.settings });
  }

  private sendEncodeStart(encoder: Session | undefined, start: EncodeStart): void {
    this.send(encoder, 'ENCODE-START', {
      'Stream-Channel': start.channel,
      'Stream-ID': start.streamId,
      'Stream-Source-Type': start.method,
      'Stream-Source-URI': start.sourceUri,
      Resolutions: start.settings.resolutions,
      Record: start.settings.record ? 'True' : 'False',
      Previews: start.settings.previews,
    });
  }

  /** The channel's encoder must stop (the publish ended): ENCODE-STOP here, or on the coordinator holding the encoder. */
  private stopEncoder(channel: Channel): void {
    if (channel.encoder === undefined) return;
    if (channel.encoderNode !== undefined) this.events.remoteEncodeStop?.(channel);
    else this.send(this.sessions.get(channel.encoder), 'ENCODE-STOP', { 'Stream-Channel': channel.name, 'Stream-ID': channel.streamId });
  }

  // ------------------------------------------------------- streams across coordinators (a cluster)

  /** Another coordinator's publish asks encoder `encoder` here for a slot: taken and ENCODE-START sent, or false when it has no room. */
  startRemote(node: string, encoder: number, start: EncodeStart): boolean {
    const session = this.sessions.get(encoder);
    if (!session?.alive || session.role !== 'hls' || this.remoteStreams.has(start.channel) || !this.encoders.acquireId(encoder)) return false;
    this.remoteStreams.set(start.channel, { channel: start.channel, streamId: start.streamId, encoder, node });
    session.channels.add(start.channel);
    this.events.encoderChanged?.(encoder);
    this.sendEncodeStart(session, start);
    return true;
  }

  /** The publish of a stream encoded here ended on its coordinator: ENCODE-STOP, slot freed. */
  stopRemote(channel: string, streamId: string): boolean {
    const stream = this.endRemote(channel, streamId);
    if (!stream) return false;
    this.send(this.sessions.get(stream.encoder), 'ENCODE-STOP', { 'Stream-Channel': channel, 'Stream-ID': streamId });
    return true;
  }

  private endRemote(channel: string, streamId: string, encoder?: number): RemoteStream | undefined {
    const stream = this.remoteStreams.get(channel);
    if (!stream || stream.streamId !== streamId || (encoder !== undefined && stream.encoder !== encoder)) return undefined;
    this.remoteStreams.delete(channel);
    this.sessions.get(stream.encoder)?.channels.delete(channel);
    this.encoders.release(stream.encoder);
    this.events.encoderChanged?.(stream.encoder);
    this.events.capacityFreed();
    return stream;
  }

  /** The encoder on coordinator `node` ended this channel's stream (it closed it, or left): the publisher is killed here. */
  endedByRemoteEncoder(name: string, streamId: string, node: string): boolean {
    const channel = this.channels.get(name);
    if (!channel || channel.streamId !== streamId || channel.encoderNode !== node) return false;
    this.close(name);
    this.send(this.sessions.get(channel.publisher), 'STREAM-KILL', { 'Stream-Channel': name, 'Stream-ID': channel.streamId });
    return true;
  }

  /** Close a channel: forget it, release its encoder slot exactly once. */
  close(name: string): Channel | undefined {
    const channel = this.channels.get(name);
    if (!channel) return undefined;
    this.channels.delete(name);
    this.events.channelClosed?.(channel);
    this.sessions.get(channel.publisher)?.channels.delete(name);
    if (channel.encoder !== undefined && channel.encoderNode === undefined) {
      this.sessions.get(channel.encoder)?.channels.delete(name);
      this.encoders.release(channel.encoder);
      this.events.encoderChanged?.(channel.encoder);
      this.events.capacityFreed();
    }
    return channel;
  }

  // ------------------------------------------------------- ingest side

  /** PUBLISH-END: only the channel's publisher, only for its current stream id. */
  publishEnd(session: Session, message: ControlMessage): void {
    const name = arg(message, 'Stream-Channel');
    const channel = this.channels.get(name);
    if (!channel || channel.publisher !== session.id || channel.streamId !== arg(message, 'Stream-ID')) return;
    this.close(name);
    this.stopEncoder(channel);
  }

  /** The close command: STREAM-KILL to the publisher, with the id verbatim (`*` stays `*`). */
  kill(name: string, streamId: string): boolean {
    const channel = this.channels.get(name);
    const publisher = channel ? this.sessions.get(channel.publisher) : undefined;
    if (!channel || !publisher) return false;
    this.send(publisher, 'STREAM-KILL', { 'Stream-Channel': name, 'Stream-ID': streamId });
    return true;
  }

  // ------------------------------------------------------- encoder side

  register(session: Session, message: ControlMessage): void {
    const raw = arg(message, 'Capacity');
    if (!/^[+-]?\d+$/.test(raw) || Math.abs(Number(raw)) > 2147483647) {
      this.options.log.warn({ session: session.id, capacity: raw }, 'REGISTER with an invalid capacity ignored');
      return;
    }
    this.encoders.register(session.id, Number.parseInt(raw, 10));
    this.events.encoderChanged?.(session.id);
    this.events.capacityFreed();
  }

  async streamAvailable(message: ControlMessage): Promise<void> {
    const startTime = arg(message, 'Start-Time');
    const channel = this.channels.get(arg(message, 'Stream-Channel'));
    if (channel && channel.streamId === arg(message, 'Stream-ID') && channel.substreams.length < MAX_SUBSTREAMS) {
      channel.substreams.push({ type: arg(message, 'Stream-Type').slice(0, 64), resolution: arg(message, 'Resolution').slice(0, 64), at: Date.now() });
    }
    await this.events.streamAvailable({
      channel: arg(message, 'Stream-Channel'),
      streamId: arg(message, 'Stream-ID'),
      streamType: arg(message, 'Stream-Type'),
      resolution: arg(message, 'Resolution'),
      indexFile: arg(message, 'Index-file'),
      ...(startTime ? { startTime } : {}),
    });
  }

  async streamClosed(session: Session, message: ControlMessage): Promise<void> {
    const name = arg(message, 'Stream-Channel');
    const streamId = arg(message, 'Stream-ID');
    await this.events.streamClosed({ channel: name, streamId });
    const remote = this.endRemote(name, streamId, session.id);
    if (remote) {
      this.events.remoteStreamEnded?.(remote);
      return;
    }
    const channel = this.channels.get(name);
    if (!channel || channel.encoder !== session.id || channel.encoderNode !== undefined || channel.streamId !== streamId) return;
    this.close(name);
    this.send(this.sessions.get(channel.publisher), 'STREAM-KILL', { 'Stream-Channel': name, 'Stream-ID': channel.streamId });
  }

  // ------------------------------------------------------- disconnects

  async lost(session: Session): Promise<void> {
    session.alive = false;
    this.sessions.delete(session.id);
    if (session.role === 'hls') await this.encoderLost(session);
    else this.ingestLost(session);
  }

  private ingestLost(session: Session): void {
    for (const name of [...session.channels]) {
      const channel = this.channels.get(name);
      if (!channel || channel.publisher !== session.id) continue;
      this.close(name);
      this.stopEncoder(channel);
    }
  }

  private async encoderLost(session: Session): Promise<void> {
    this.encoders.remove(session.id);
    this.events.encoderChanged?.(session.id);
    for (const name of [...session.channels]) {
      const remote = this.remoteStreams.get(name);
      if (remote?.encoder === session.id) {
        this.remoteStreams.delete(name);
        await this.events.streamClosed({ channel: name, streamId: remote.streamId });
        this.events.remoteStreamEnded?.(remote);
        continue;
      }
      const channel = this.channels.get(name);
      if (!channel || channel.encoder !== session.id || channel.encoderNode !== undefined) continue;
      if (this.options.reassignOnEncoderLoss) {
        const next = this.encoders.acquire();
        if (next !== undefined) {
          this.assignEncoder(channel, next);
          this.encodeStart(channel);
          this.options.log.info({ channel: name, from: session.id, to: next }, 'stream moved to another encoder');
          continue;
        }
      }
      channel.encoder = undefined; // its slot left with the encoder
      this.close(name);
      await this.events.streamClosed({ channel: name, streamId: channel.streamId });
      this.send(this.sessions.get(channel.publisher), 'STREAM-KILL', { 'Stream-Channel': name, 'Stream-ID': channel.streamId });
    }
  }

  // ------------------------------------------------------- reports

  report(): StreamingReport {
    const servers = [...this.sessions.values()].filter((s) => s.role !== 'hls')
      .map((s) => ({ id: s.id, ip: s.externalIp, port: s.port, ssl: s.ssl, serverType: ingestTypeOf(s.role) }));
    const streams = [...this.channels.values()].map((c) => ({ channel: c.name, streamId: c.streamId, streamServer: c.publisher, encoder: c.encoder ?? 0 }));
    return reportOf(servers, this.encoders.list(), streams);
  }

  details(): ControlPlaneDetails {
    const byId = [...this.sessions.values()].sort((a, b) => a.id - b.id);
    const ingest = byId.filter((s) => s.role !== 'hls').map((s) => ({
      id: s.id, type: ingestTypeOf(s.role), ip: s.externalIp, port: s.port, ssl: s.ssl, connectedAt: s.connectedAt, streams: s.channels.size,
    }));
    const encoders = this.encoders.list().map((e) => {
      const session = this.sessions.get(e.id);
      return { ...e, ip: session?.remoteIp ?? '', connectedAt: session?.connectedAt ?? 0 };
    });
    const streams = [...this.channels.values()].map((c) => ({
      channel: c.name, streamId: c.streamId, method: c.method, startedAt: c.startedAt, streamServer: c.publisher, encoder: c.encoder ?? 0, substreams: c.substreams,
    }));
    return { ingestServers: ingest, encoders, streams };
  }
}
