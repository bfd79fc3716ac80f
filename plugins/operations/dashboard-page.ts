// The dashboard: one self-contained page (no build step), fed by server-sent events.

export const LOGIN_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Coordinator dashboard: sign in</title>
<style>body{font:15px system-ui,sans-serif;margin:3rem auto;max-width:28rem;color:#222}input{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}button{padding:.5rem 1rem}</style></head>
<body><h1>Coordinator dashboard</h1>
<p>Sign in with the commands API credential: the whole <code>Authorization</code> value, e.g. <code>Bearer &lt;COMMANDS_API_AUTH_TOKEN&gt;</code>.</p>
<form method="post" action="/dashboard/login"><input name="authorization" type="password" placeholder="Bearer …" autofocus><button type="submit">Sign in</button></form>
</body></html>`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Coordinator dashboard</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1d2330;background:#f6f7f9}
h1{font-size:1.3rem;margin:0 0 .3rem}h2{font-size:1rem;margin:1.2rem 0 .4rem}
.meta{color:#667}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{background:#fff;border:1px solid #dde;border-radius:6px;padding:.7rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;background:#fff;min-width:30rem}td,th{border:1px solid #dde;padding:.3rem .6rem;text-align:left}
th{background:#eef}.bar{background:#dde;height:.6rem;width:8rem;border-radius:3px;overflow:hidden}.bar i{display:block;height:100%;background:#3a7}
.empty{color:#889;font-style:italic}#conn.down{color:#b33}
</style></head>
<body>
<h1>Coordinator</h1>
<div class="meta"><span id="conn">connecting…</span> · <span id="status"></span> · up <span id="uptime"></span> s · plugins: <span id="plugins"></span>
<form method="post" action="/dashboard/logout" style="display:inline"> · <button type="submit" id="sign-out">Sign out</button></form></div>
<div class="cards">
  <div class="card">in-flight requests<b id="inflight">–</b></div>
  <div class="card">encoders<b id="encoder-count">–</b></div>
  <div class="card">encoder load / capacity<b id="load">–</b></div>
  <div class="card">active streams<b id="stream-count">–</b></div>
  <div class="card">callback outbox<b id="outbox">–</b></div>
  <div class="card">proxied streams open<b id="proxy">–</b></div>
</div>
<h2>Providers per task</h2><table id="providers"></table>
<h2>Ingest servers</h2><table id="ingest"></table>
<h2>Encoders</h2><table id="encoders"></table>
<h2>Active streams</h2><table id="streams"></table>
<script>
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
function table(id, columns, rows, render) {
  const head = '<tr>' + columns.map((c) => '<th>' + esc(c) + '</th>').join('') + '</tr>';
  const body = rows.length ? rows.map((r) => '<tr>' + render(r).map((v) => '<td>' + v + '</td>').join('') + '</tr>').join('')
    : '<tr><td class="empty" colspan="' + columns.length + '">none</td></tr>';
  $(id).innerHTML = head + body;
}
function bar(load, capacity) {
  if (capacity < 0) return esc(load) + ' / unlimited';
  const pct = capacity > 0 ? Math.min(100, Math.round(100 * load / capacity)) : 100;
  return '<div class="bar"><i style="width:' + pct + '%"></i></div> ' + esc(load) + ' / ' + esc(capacity);
}
function render(s) {
  $('status').textContent = s.status; $('uptime').textContent = s.uptimeSec; $('plugins').textContent = s.plugins.join(', ');
  $('inflight').textContent = s.inFlight;
  $('encoder-count').textContent = s.capacity ? s.capacity.encoderCount : 0;
  $('load').textContent = s.capacity ? s.capacity.load + ' / ' + (s.capacity.capacity < 0 ? '∞' : s.capacity.capacity) : '–';
  $('stream-count').textContent = s.activeStreams.length;
  $('outbox').textContent = s.outbox ? s.outbox.depth + (s.outbox.deadLetters ? ' (' + s.outbox.deadLetters + ' dead)' : '') : '–';
  $('proxy').textContent = s.streamProxy ? s.streamProxy.open : '–';
  table('providers', ['task', 'providers'], s.providers, (p) => [esc(p.task), esc(p.providers)]);
  table('ingest', ['id', 'type', 'address', 'ssl'], s.ingestServers, (i) => [esc(i.id), esc(i.serverType), esc(i.ip + ':' + i.port), i.ssl ? 'yes' : 'no']);
  table('encoders', ['id', 'load / capacity'], s.encoders, (e) => ['<span class="encoder-id">' + esc(e.id) + '</span>', bar(e.load, e.capacity)]);
  table('streams', ['channel', 'stream id', 'ingest server', 'encoder'], s.activeStreams, (a) => [esc(a.channel), esc(a.streamId), esc(a.streamServer), esc(a.encoder)]);
}
const source = new EventSource('/dashboard/events');
source.onopen = () => { $('conn').textContent = 'live'; $('conn').className = ''; };
source.onerror = () => { $('conn').textContent = 'disconnected, retrying'; $('conn').className = 'down'; };
source.onmessage = (e) => render(JSON.parse(e.data));
</script>
</body></html>`;
