// `coordinator plugins`: the plugin tree, as Fastify's printPlugins shows it.
import type { PluginDescription } from '../core/runtime.js';

export function formatPlugins(plugins: PluginDescription[]): string {
  const lines: string[] = [`${plugins.length} plugin${plugins.length === 1 ? '' : 's'}, in order (drain and stop run in reverse)`];
  plugins.forEach((p, i) => {
    const last = i === plugins.length - 1;
    const branch = last ? '└─' : '├─';
    const stem = last ? '   ' : '│  ';
    lines.push(`${branch} ${p.name}${p.version ? `@${p.version}` : ''}${p.dependencies.length > 0 ? `  (needs ${p.dependencies.join(', ')})` : ''}`);
    const requestTaps = p.taps.filter((t) => !['start', 'ready', 'drain', 'stop'].includes(t.hook));
    const lifecycle = p.taps.filter((t) => ['start', 'ready', 'drain', 'stop'].includes(t.hook)).map((t) => t.hook);
    for (const t of requestTaps) lines.push(`${stem}  hook ${t.hook} (stage ${t.stage})`);
    if (lifecycle.length > 0) lines.push(`${stem}  lifecycle ${[...new Set(lifecycle)].join(', ')}`);
    for (const s of p.services) lines.push(`${stem}  provides service ${s}`);
    for (const d of p.deliveries) lines.push(`${stem}  delivers ${d}: response hooks`);
  });
  return `${lines.join('\n')}\n`;
}
