// undici, loaded when something is first sent rather than at start: loading
// it costs ~100 ms and 10–20 MiB of RSS, which a coordinator that has not yet
// POSTed a verification, a callback or a response (or fetched an HTTP
// stream source) does not need to carry. Once loaded, each use is the agent
// itself, with no extra hop.

import type { Agent, Dispatcher } from 'undici';

type Undici = typeof import('undici');
let loading: Promise<Undici> | undefined;

/** The undici module, imported once for the whole process. */
export function loadUndici(): Promise<Undici> {
  return (loading ??= import('undici'));
}

export class LazyAgent {
  private agent: Agent | undefined;
  private pending: Promise<Agent> | undefined;

  constructor(private readonly options: Agent.Options) {}

  /** The agent when it exists already (the hot path), else undefined. */
  get loaded(): Agent | undefined {
    return this.agent;
  }

  /** The agent, created (and undici loaded) on first use. */
  get(): Promise<Agent> {
    return (this.pending ??= loadUndici().then(({ Agent: AgentClass }) => (this.agent = new AgentClass(this.options))));
  }

  /** Dispatch now when the agent exists, else once it does; a failure to load undici reaches `fail`. */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, fail: (err: Error) => void): void {
    if (this.agent) {
      this.agent.dispatch(options, handler);
      return;
    }
    this.get().then((agent) => agent.dispatch(options, handler)).catch(fail);
  }

  /** Close the agent if it was ever made (nothing to do otherwise). */
  async close(): Promise<void> {
    if (!this.pending) return;
    const agent = await this.pending.catch(() => undefined);
    await agent?.close();
  }
}
