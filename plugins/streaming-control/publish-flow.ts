// The publish flow: PUBLISH-REQUEST becomes a request of task stream.publish
// through the runtime's pipeline. The id grammar is an onRequest tap (key-auth
// verifies the key in another), and the scheduler below is the provider that
// resolveProvider picks: it opens the channel (cluster-wide too, on a
// cluster), chooses an encoder (here, else on another coordinator, else waits
// for capacity when publishQueueMs allows) and sends ENCODE-START. The answer
// goes back to the ingest server as PUBLISH-ACCEPT or PUBLISH-DENY.

import type { Logger } from '../../core/logger.js';
import type { PluginApi } from '../../core/plugin.js';
import type { Provider } from '../../core/provider.js';
import { CoordinatorError } from '../../core/errors.js';
import { successResponse } from '../../core/model.js';
import { DEFAULT_STREAM_SETTINGS, KEY_AUTH_ATTRIBUTE, PUBLISH_TASK, type PublishArgs, type StreamSettings } from '../key-auth/index.js';
import { arg, type ControlMessage } from './messages.js';
import { isValidId, StreamIdGenerator } from './ids.js';
import type { ClusterLink } from './cluster-link.js';
import { ingestTypeOf, sourceUri, type Channel, type ControlPlane, type Session } from './control-plane.js';

/** The request attribute carrying the publishing session's id. */
export const SESSION_ATTRIBUTE = 'streaming.session';

export interface PublishFlowOptions {
  /** Longest channel id and stream key. */
  idMaxLength: number;
  /** Wait this long for encoder capacity instead of denying at once (0: deny). */
  publishQueueMs: number;
}

export class PublishFlow {
  private readonly ids = new StreamIdGenerator();
  private readonly capacityWaiters: Array<() => void> = [];

  constructor(
    private readonly api: PluginApi,
    private readonly plane: ControlPlane,
    private readonly options: PublishFlowOptions,
    private readonly link: () => ClusterLink | undefined,
    private readonly log: Logger,
  ) {}

  /** Tap the pipeline: the id grammar (onRequest) and the scheduler (resolveProvider). */
  install(pluginName: string): void {
    const maxIdLength = this.options.idMaxLength;
    // Channel and key grammar first: a bad id never reaches the verifier.
    this.api.hooks.onRequest.tap({ name: pluginName, stage: -50 }, (request) => {
      if (request.task !== PUBLISH_TASK) return request;
      const args = (request.args ?? {}) as Partial<PublishArgs>;
      if (!isValidId(String(args.channel ?? ''), maxIdLength)) throw new CoordinatorError('ERR_REJECTED', 'invalid channel id', { requestId: request.id });
      if (!isValidId(String(args.key ?? ''), maxIdLength)) throw new CoordinatorError('ERR_REJECTED', 'invalid stream key', { requestId: request.id });
      return request;
    });
    this.api.hooks.resolveProvider.tap({ name: pluginName, stage: -30 }, (request) => (request.task === PUBLISH_TASK && !request.taskURL ? this.scheduler : undefined));
  }

  /** Capacity was freed (or the coordinator is draining): publishes waiting for it try again. */
  wake(): void {
    for (const wake of this.capacityWaiters.splice(0)) wake();
  }

  /** PUBLISH-REQUEST from an ingest session: verified outside the message loop, answered on the session. */
  async onPublishRequest(session: Session, message: ControlMessage): Promise<void> {
    const { runtime } = this.api;
    const requestId = arg(message, 'Request-ID');
    const channel = arg(message, 'Stream-Channel');
    const echo = { 'Request-ID': requestId, 'Stream-Channel': channel };
    const response = await runtime.inject(
      { task: PUBLISH_TASK, args: { channel, key: arg(message, 'Stream-Key'), userIp: arg(message, 'User-IP') } satisfies PublishArgs },
      { origin: 'ws', remoteAddress: session.remoteIp, attributes: { [SESSION_ATTRIBUTE]: session.id } },
    );
    if (!session.alive) return; // the publisher left while we verified: nobody to answer
    runtime.telemetry.emit('publish', { accepted: !response.error, reason: response.error ? (response.errorCode ?? 'error') : 'accepted' });
    if (response.error) {
      this.log.debug({ session: session.id, channel, reason: response.error }, 'publish denied');
      this.plane.send(session, 'PUBLISH-DENY', echo);
      return;
    }
    const { streamId } = response.result as { streamId: string };
    this.log.debug({ session: session.id, channel, streamId }, 'publish accepted');
    this.plane.send(session, 'PUBLISH-ACCEPT', { ...echo, 'Stream-ID': streamId });
  }

  private waitForCapacity(deadline: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const attempt = () => {
        const id = this.plane.encoders.acquire();
        if (id !== undefined) { clearTimeout(timer); resolve(id); return; }
        if (Date.now() >= deadline) { resolve(undefined); return; }
        this.capacityWaiters.push(attempt);
      };
      const timer = setTimeout(() => {
        const index = this.capacityWaiters.indexOf(attempt);
        if (index >= 0) this.capacityWaiters.splice(index, 1);
        resolve(undefined);
      }, Math.max(0, deadline - Date.now()));
      attempt();
    });
  }

  private readonly scheduler: Provider = {
    name: 'hls-encoder-scheduler',
    transport: 'ws',
    send: async (request, ctx) => {
      const { plane } = this;
      const session = plane.sessions.get(ctx.attributes[SESSION_ATTRIBUTE] as number);
      if (!session?.alive) throw new CoordinatorError('ERR_REJECTED', 'publisher session is gone', { requestId: request.id });
      const args = request.args as PublishArgs;
      const streamId = this.ids.next();
      const settings = (ctx.attributes[KEY_AUTH_ATTRIBUTE] as StreamSettings | undefined) ?? DEFAULT_STREAM_SETTINGS;
      const method = ingestTypeOf(session.role);
      if (!plane.open({ name: args.channel, publisher: session.id, method, streamId, sourceUri: sourceUri(session, method, args.channel, args.key), settings })) {
        throw new CoordinatorError('ERR_REJECTED', `channel ${args.channel} is already publishing`, { requestId: request.id });
      }
      // The channel is still this publish's after an await (the publisher may have left, or ended it, meanwhile).
      const channel = plane.channels.get(args.channel)!;
      const stillOurs = () => plane.channels.get(args.channel) === channel;
      const link = this.link();
      if (link) {
        const verdict = await link.claim(channel);
        if (verdict !== 'ok' || !stillOurs()) {
          if (stillOurs()) plane.close(args.channel);
          else if (verdict === 'ok') link.released(channel); // ended while we claimed: free the claim we just won
          throw new CoordinatorError('ERR_REJECTED', verdict === 'taken' ? `channel ${args.channel} is already publishing on another coordinator` : verdict === 'unavailable' ? 'cluster state unavailable: publishes are refused until it is back' : 'publisher session is gone', { requestId: request.id });
        }
      }
      const chosen = await this.chooseEncoder(channel, link);
      if (chosen === undefined || !session.alive || !stillOurs() || (chosen.node === undefined && !plane.sessions.get(chosen.encoder)?.alive)) {
        if (chosen?.node !== undefined) link?.remoteEncodeStop({ ...channel, encoder: chosen.encoder, encoderNode: chosen.node });
        else if (chosen !== undefined) plane.encoders.release(chosen.encoder);
        if (stillOurs()) plane.close(args.channel);
        throw new CoordinatorError('ERR_NO_PROVIDER', 'no encoder with spare capacity', { requestId: request.id });
      }
      plane.assignEncoder(channel, chosen.encoder, chosen.node);
      link?.encoderChosen(channel);
      // A remote encoder got its ENCODE-START from its own coordinator.
      if (chosen.node === undefined) plane.encodeStart(channel);
      setImmediate(() => this.api.runtime.receiveResponse(successResponse(request.id, { streamId, encoder: chosen.encoder })));
    },
  };

  /**
   * The least loaded encoder here; else, on a cluster, one on another
   * coordinator (its slot taken and ENCODE-START sent there); else one freed
   * within publishQueueMs.
   */
  private async chooseEncoder(channel: Channel, link: ClusterLink | undefined): Promise<{ encoder: number; node?: string } | undefined> {
    const local = this.plane.encoders.acquire();
    if (local !== undefined) return { encoder: local };
    if (link) {
      const remote = await link.startOnRemoteEncoder(channel);
      if (remote) return remote;
    }
    if (this.options.publishQueueMs <= 0) return undefined;
    const waited = await this.waitForCapacity(Date.now() + this.options.publishQueueMs);
    return waited === undefined ? undefined : { encoder: waited };
  }
}
