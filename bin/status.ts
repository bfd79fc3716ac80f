// `coordinator status`: the live state of a running coordinator, at a glance.
import type { Snapshot } from '../plugins/operations/snapshot.js';

export interface StatusOptions {
  url: string;
  authorization: string | undefined;
}

function pad(text: string | number, width: number): string {
  return String(text).padEnd(width);
}

export function formatSnapshot(s: Snapshot): string {
  const lines: string[] = [];
  lines.push(`coordinator ${s.status}, up ${s.uptimeSec}s, ${s.inFlight} request(s) in flight`);
  lines.push(`plugins: ${s.plugins.join(', ')}`);
  lines.push('');
  lines.push(`providers (${s.providers.length} task${s.providers.length === 1 ? '' : 's'})`);
  for (const p of s.providers) lines.push(`  ${pad(p.task, 30)} ${p.providers}`);
  if (s.capacity) {
    const cap = s.capacity.capacity < 0 ? 'unlimited' : String(s.capacity.capacity);
    lines.push('');
    lines.push(`encoders: ${s.capacity.encoderCount}, load ${s.capacity.load} / ${cap}`);
    for (const e of s.encoders) lines.push(`  #${pad(e.id, 6)} ${e.load} / ${e.capacity < 0 ? 'unlimited' : e.capacity}`);
    lines.push(`ingest servers: ${s.ingestServers.length}`);
    for (const i of s.ingestServers) lines.push(`  #${pad(i.id, 6)} ${pad(i.serverType, 5)} ${i.ip}:${i.port}${i.ssl ? ' (ssl)' : ''}`);
    lines.push(`active streams: ${s.activeStreams.length}`);
    for (const a of s.activeStreams) lines.push(`  ${pad(a.channel, 24)} ${a.streamId}  ingest #${a.streamServer} encoder #${a.encoder}`);
  }
  if (s.outbox) {
    lines.push('');
    lines.push(`callback outbox: ${s.outbox.depth} waiting (oldest ${Math.round(s.outbox.oldestAgeMs / 1000)}s), ${s.outbox.delivered} delivered, ${s.outbox.retries} retries, ${s.outbox.deadLetters} dead letters`);
  }
  if (s.streamProxy) lines.push(`stream proxy: ${s.streamProxy.open} open, ${s.streamProxy.bytes} bytes served, ${s.streamProxy.tokens} tokens`);
  if (s.cluster) {
    lines.push(`cluster (${s.cluster.engine}): this node ${s.cluster.nodeId}${s.cluster.fenced ? ' (FENCED: declared dead, not acting)' : ''}; ${s.cluster.members.length} member(s)`);
    for (const m of s.cluster.members) lines.push(`  ${pad(m.node, 32)} up since ${new Date(m.startedAt).toISOString()}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function fetchStatus(options: StatusOptions): Promise<{ ok: true; snapshot: Snapshot } | { ok: false; message: string }> {
  let res: Response;
  try {
    res = await fetch(`${options.url.replace(/\/+$/, '')}/status`, {
      headers: options.authorization ? { authorization: options.authorization } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    return { ok: false, message: `cannot reach ${options.url}: ${(err as Error).message}` };
  }
  if (res.status === 401) return { ok: false, message: 'unauthorized: pass --authorization "Bearer <COMMANDS_API_AUTH_TOKEN>" (or set COORDINATOR_AUTHORIZATION)' };
  if (res.status === 404) return { ok: false, message: `${options.url} has no /status: is the operations plugin enabled?` };
  if (!res.ok) return { ok: false, message: `${options.url}/status answered ${res.status}` };
  return { ok: true, snapshot: (await res.json()) as Snapshot };
}
