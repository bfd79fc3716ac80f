// Which coordinator serves which acomm task, cluster-wide: each node
// advertises the tasks its own provider sockets serve (a lease in the
// cluster state, rewritten every heartbeat, gone when the node leaves or
// dies), and a request for a task no local provider serves is forwarded to a
// node that advertises it, through http-ingress's federation (the answer and
// any stream come back through /proxy and the stream proxy, as for a taskURL).

import type { Logger } from '../../core/logger.js';
import type { Provider } from '../../core/provider.js';
import type { ClusterState, TaskPeer } from './types.js';

/** Tasks one node advertises, at most. */
export const MAX_ADVERTISED_TASKS = 1000;
/** How long a read of the other nodes' tasks is reused, ms (one read per second at most). */
const PEERS_CACHE_MS = 1000;

export interface TaskRegistryDeps {
  state: ClusterState;
  /** The tasks this node's providers serve. */
  localTasks(): Promise<string[]>;
  /** A provider forwarding to another coordinator (http-ingress's federation). */
  forwarder(taskURL: URL): Provider;
  /** Where other coordinators reach this one's HTTP ingress. */
  url: string;
  intervalMs: number;
  log: Logger;
}

export class TaskRegistry {
  private timer: NodeJS.Timeout | undefined;
  private cache: { at: number; peers: Promise<TaskPeer[]> } | undefined;
  private turn = 0;
  private lastAdvertised = '';

  constructor(private readonly deps: TaskRegistryDeps) {}

  start(): void {
    const advertise = () => void this.advertise().catch((err: unknown) => this.deps.log.debug({ err: (err as Error).message }, 'tasks not advertised to the cluster'));
    advertise();
    this.timer = setInterval(advertise, this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async advertise(): Promise<void> {
    const tasks = (await this.deps.localTasks()).slice(0, MAX_ADVERTISED_TASKS).sort();
    const key = tasks.join('\n');
    if (key !== this.lastAdvertised) this.deps.log.info({ tasks: tasks.length, url: this.deps.url }, 'tasks served here advertised to the cluster');
    this.lastAdvertised = key;
    await this.deps.state.advertiseTasks(this.deps.url, tasks);
  }

  private peers(): Promise<TaskPeer[]> {
    const now = Date.now();
    if (!this.cache || now - this.cache.at > PEERS_CACHE_MS) {
      this.cache = { at: now, peers: this.deps.state.taskPeers().catch(() => []) };
    }
    return this.cache.peers;
  }

  /** A coordinator serving `task` (taking turns among several), or undefined. */
  async peerFor(task: string): Promise<URL | undefined> {
    const candidates = (await this.peers()).filter((p) => p.tasks.includes(task));
    if (candidates.length === 0) return undefined;
    const chosen = candidates[this.turn++ % candidates.length]!;
    try {
      return new URL(chosen.url);
    } catch {
      return undefined;
    }
  }

  /** The forwarding provider for a request with no local provider; sets its taskURL (the peer's /proxy answer is then accepted). */
  async resolve(request: { task: string; taskURL: URL | null }): Promise<Provider | undefined> {
    const url = await this.peerFor(request.task);
    if (!url) return undefined;
    request.taskURL = url;
    const forwarder = this.deps.forwarder(url);
    // A peer that cannot be reached (it just left): read the registry again for the next request.
    return {
      ...forwarder,
      send: (req, ctx) => Promise.resolve(forwarder.send(req, ctx)).catch((err: unknown) => {
        this.cache = undefined;
        throw err;
      }),
    };
  }
}
