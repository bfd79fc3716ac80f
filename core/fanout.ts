// Fan-out: several named requests at once, results keyed by name, resolved
// when every member is accounted for (answer, error or timeout). Unlike the
// original MultiRequest it never hangs when one member cannot be sent, and has
// no member limit.

import type { Response } from './model.js';

export interface FanOutMember {
  task: string;
  args?: unknown;
  /** Overrides the shared timeout for this member, ms. */
  timeoutMs?: number;
}

/** `run` must never reject: it turns failures into error responses. */
export async function fanOut<M extends FanOutMember>(
  run: (member: M) => Promise<Response>,
  members: Record<string, M>,
): Promise<Record<string, Response>> {
  const names = Object.keys(members);
  const responses = await Promise.all(names.map((name) => run(members[name]!)));
  const out: Record<string, Response> = {};
  names.forEach((name, i) => { out[name] = responses[i]!; });
  return out;
}
