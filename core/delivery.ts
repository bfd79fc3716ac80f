// Delivery of a response to its response hook, chosen by the hook's URL
// scheme. Transport plugins register the schemes they can reach; the core
// itself knows no transport (it only registers 'inproc' for in-process callers).

import { CoordinatorError } from './errors.js';
import type { Response } from './model.js';
import type { ResponseContext } from './context.js';
import { schemeOf } from './wire-url.js';

export interface Delivery {
  /** Deliver a response to `hook`; reject when it could not be delivered. */
  deliver(hook: URL, response: Response, context: ResponseContext): Promise<void>;
}

export class DeliveryRegistry {
  private readonly byScheme = new Map<string, { plugin: string; delivery: Delivery }>();

  register(scheme: string, delivery: Delivery, plugin: string): void {
    const existing = this.byScheme.get(scheme);
    if (existing) {
      throw new CoordinatorError('ERR_PLUGIN_DUPLICATE', `plugin ${plugin} registers delivery for ${scheme}: but ${existing.plugin} already did`);
    }
    this.byScheme.set(scheme, { plugin, delivery });
  }

  has(scheme: string): boolean {
    return this.byScheme.has(scheme);
  }

  schemes(): string[] {
    return [...this.byScheme.keys()];
  }

  /** Which plugin delivers each scheme. */
  owners(): Array<{ scheme: string; plugin: string }> {
    return [...this.byScheme].map(([scheme, entry]) => ({ scheme, plugin: entry.plugin }));
  }

  async deliver(hook: URL, response: Response, context: ResponseContext): Promise<void> {
    const entry = this.byScheme.get(schemeOf(hook));
    if (!entry) {
      throw new CoordinatorError('ERR_NO_DELIVERY', `no plugin delivers to ${schemeOf(hook)}: response hooks`, { requestId: response.id });
    }
    await entry.delivery.deliver(hook, response, context);
  }
}
