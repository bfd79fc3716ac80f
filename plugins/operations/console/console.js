// The coordinator console, in the browser. Fed by server-sent events from
// /dashboard/events: `history` once (the whole window), `sample` at every
// history tick (one point per series), and the tables' state every
// dashboardIntervalMs. Charts are uPlot (served from the package).
/* global uPlot */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const fmt = (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Number(n).toFixed(digits).replace(/\.0+$/, ''));

  function ago(ms) {
    if (!ms) return 'never';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 90) return s + ' s';
    if (s < 5400) return Math.round(s / 60) + ' min';
    if (s < 172800) return Math.round(s / 3600) + ' h';
    return Math.round(s / 86400) + ' d';
  }
  const clock = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '–');

  // ------------------------------------------------------------ theme

  const stored = localStorage.getItem('coordinator-theme');
  const prefersDark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = stored || (prefersDark ? 'dark' : 'light');
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // ------------------------------------------------------------ charts

  const CHARTS = [
    { id: 'chart-requests', series: [['ok', 'ok', '--ok'], ['error', 'error', '--bad'], ['timeout', 'timeout', '--warn']], digits: 1 },
    { id: 'chart-latency', series: [['p50', 'p50', '--accent'], ['p99', 'p99', '--warn']], digits: 2, spanGaps: true },
    { id: 'chart-publishes', series: [['accepted', 'accepted', '--ok'], ['denied', 'denied', '--bad']], digits: 1 },
    { id: 'chart-callbacks', series: [['delivered', 'delivered/s', '--ok'], ['retries', 'retries/s', '--warn'], ['outboxDepth', 'outbox depth', '--accent', 'depth'], ['outboxOldestSec', 'oldest waiting, s', '--bad', 'depth']], digits: 1 },
    { id: 'chart-proxy', series: [['proxyBytesPerSec', 'MiB/s', '--accent', undefined, (v) => (v === null ? null : v / 1048576)]], digits: 2 },
    { id: 'chart-encoders', series: [['encoderLoad', 'load', '--accent'], ['encoderCapacity', 'capacity', '--muted', undefined, (v) => (v === null || v < 0 ? null : v)]], digits: 0 },
  ];
  let history = null; // { intervalMs, points, t, series, topDenials }
  const plots = new Map();

  function chartData(chart) {
    const data = [history.t];
    for (const [name, , , , map] of chart.series) data.push(map ? history.series[name].map(map) : history.series[name]);
    return data;
  }

  function buildCharts() {
    for (const plot of plots.values()) plot.destroy();
    plots.clear();
    if (!history || typeof uPlot === 'undefined') return;
    const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
    for (const chart of CHARTS) {
      const el = $(chart.id);
      const hasRight = chart.series.some((s) => s[3]);
      const opts = {
        width: Math.max(240, el.clientWidth),
        height: 150,
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, ...(hasRight ? { depth: { auto: true } } : {}) },
        axes: [axis, { ...axis, size: 44 }, ...(hasRight ? [{ ...axis, scale: 'depth', side: 1, grid: { show: false }, size: 44 }] : [])],
        series: [{}, ...chart.series.map(([, label, color, scale]) => ({
          label, stroke: cssVar(color), width: 1.5, spanGaps: chart.spanGaps === true, points: { show: false },
          value: (u, v) => fmt(v, chart.digits), ...(scale ? { scale } : {}),
        }))],
      };
      plots.set(chart.id, new uPlot(opts, chartData(chart), el));
    }
  }

  function redrawCharts() {
    if (!history) return;
    for (const chart of CHARTS) plots.get(chart.id)?.setData(chartData(chart));
  }

  function appendSample(sample) {
    if (!history) return;
    history.t.push(sample.t);
    for (const name of Object.keys(history.series)) history.series[name].push(sample.values[name] ?? null);
    if (history.t.length > history.points) {
      history.t.shift();
      for (const name of Object.keys(history.series)) history.series[name].shift();
    }
    for (const [reason, n] of Object.entries(sample.denials || {})) {
      const row = history.topDenials.find((d) => d.reason === reason);
      if (row) row.count += n; else history.topDenials.push({ reason, count: n });
    }
    history.topDenials.sort((a, b) => b.count - a.count);
    redrawCharts();
    renderGlance();
  }

  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const chart of CHARTS) plots.get(chart.id)?.setSize({ width: Math.max(240, $(chart.id).clientWidth), height: 150 });
    }, 150);
  });

  $('theme').addEventListener('click', () => {
    const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    localStorage.setItem('coordinator-theme', next);
    buildCharts();
  });

  // ------------------------------------------------------------ at a glance

  let state = null;

  function lastValue(name) {
    const values = history ? history.series[name] : [];
    for (let i = values.length - 1; i >= 0; i -= 1) if (values[i] !== null) return values[i];
    return null;
  }

  function renderGlance() {
    if (!history) return;
    const n = history.t.length;
    const at = (name) => (n ? history.series[name][n - 1] ?? 0 : 0);
    const rate = at('ok') + at('error') + at('timeout');
    $('rate').textContent = fmt(rate);
    $('rate-note').textContent = 'ok ' + fmt(at('ok')) + ' · error ' + fmt(at('error')) + ' · timeout ' + fmt(at('timeout'));
    const window5 = Math.max(1, Math.round(300000 / history.intervalMs));
    let bad = 0; let all = 0;
    for (let i = Math.max(0, n - window5); i < n; i += 1) {
      const e = (history.series.error[i] ?? 0) + (history.series.timeout[i] ?? 0);
      bad += e; all += e + (history.series.ok[i] ?? 0);
    }
    const ratio = all > 0 ? (100 * bad) / all : 0;
    $('error-ratio').textContent = all > 0 ? fmt(ratio) + ' %' : '–';
    $('card-fail').classList.toggle('alert', ratio >= 5);
    const p99 = lastValue('p99');
    $('p99').textContent = p99 === null ? '–' : fmt(p99, 2) + ' ms';
    $('p50').textContent = 'p50 ' + (lastValue('p50') === null ? '–' : fmt(lastValue('p50'), 2) + ' ms');
    $('card-slow').classList.toggle('alert', p99 !== null && p99 >= 1000);
    $('proxy-note').textContent = fmt((at('proxyBytesPerSec') || 0) / 1048576, 2) + ' MiB/s';
    $('publish-note').textContent = fmt(at('accepted')) + ' accepted · ' + fmt(at('denied')) + ' denied /min';
    const top = history.topDenials.slice(0, 5);
    $('denials').innerHTML = top.length ? top.map((d) => '<li><b>' + esc(d.count) + '</b> ' + esc(d.reason) + '</li>').join('') : '<li class="empty none">no denials in the window</li>';
  }

  // ------------------------------------------------------------ tables

  function table(id, columns, rows, render) {
    const head = '<thead><tr>' + columns.map((c) => '<th>' + esc(c) + '</th>').join('') + '</tr></thead>';
    const body = rows.length ? rows.map((r) => '<tr>' + render(r).map((v) => '<td>' + v + '</td>').join('') + '</tr>').join('')
      : '<tr><td class="empty" colspan="' + columns.length + '">none</td></tr>';
    $(id).innerHTML = head + '<tbody>' + body + '</tbody>';
  }

  function bar(load, capacity) {
    if (capacity < 0) return esc(load) + ' / unlimited';
    const pct = capacity > 0 ? Math.min(100, Math.round((100 * load) / capacity)) : 100;
    return '<span class="bar' + (pct >= 90 ? ' full' : '') + '"><i style="width:' + pct + '%"></i></span> ' + esc(load) + ' / ' + esc(capacity);
  }

  function delivery(d) {
    if (!d) return '<span class="muted">–</span>';
    const parts = [];
    if (d.pending > 0) parts.push('<span class="' + (d.attempts > 0 ? 'warn' : '') + '">' + esc(d.pending) + ' waiting' + (d.attempts > 0 ? ', ' + esc(d.attempts) + ' attempts' : '') + '</span>');
    if (d.deadLetters > 0) parts.push('<span class="bad">' + esc(d.deadLetters) + ' dead</span>');
    parts.push(esc(d.delivered) + ' delivered' + (d.lastDeliveredAt ? ' (' + ago(d.lastDeliveredAt) + ' ago)' : ''));
    if (d.lastError) parts.push('<span class="bad" title="' + esc(d.lastError) + '">' + esc(d.lastError.slice(0, 60)) + '</span>');
    return parts.join('<br>');
  }

  function renderErrors() {
    if (!state) return;
    const q = $('error-filter').value.trim().toLowerCase();
    const rows = state.recentErrors.filter((e) => !q || [e.code, e.task, e.requestId, e.message].some((v) => String(v).toLowerCase().includes(q)));
    table('errors', ['time', 'code', 'task', 'request id', 'message'], rows,
      (e) => ['<span title="' + esc(new Date(e.at).toISOString()) + '">' + esc(clock(e.at)) + '</span>', '<code>' + esc(e.code) + '</code>', esc(e.task), '<code>' + esc(e.requestId) + '</code>', esc(e.message)]);
  }

  function render(s) {
    state = s;
    $('status').textContent = s.status;
    $('uptime').textContent = ago(s.startedAt);
    $('started').textContent = new Date(s.startedAt).toLocaleString();
    $('inflight').textContent = s.inFlight;
    $('encoder-count').textContent = s.capacity ? s.capacity.encoderCount : 0;
    $('load').textContent = s.capacity ? s.capacity.load + ' / ' + (s.capacity.capacity < 0 ? '∞' : s.capacity.capacity) : '–';
    $('stream-count').textContent = s.activeStreams.length;
    const o = s.outbox;
    $('outbox').textContent = o ? o.depth : '–';
    $('outbox-note').textContent = o ? (o.depth > 0 ? 'oldest ' + ago(Date.now() - o.oldestAgeMs) : 'empty') + (o.deadLetters ? ' · ' + o.deadLetters + ' dead' : '') : 'not configured';
    $('card-fail').dataset.lastError = s.recentErrors.length ? s.recentErrors[0].at : '';
    $('last-error').textContent = s.recentErrors.length ? 'last ' + ago(s.recentErrors[0].at) + ' ago' : 'none recorded';
    $('proxy').textContent = s.streamProxy ? s.streamProxy.open : '–';

    table('providers', ['task', 'socket', 'priority', 'last success', 'last failure', 'failures', 'failovers'],
      s.providerSockets.flatMap((p) => p.sockets.map((k) => ({ task: p.task, ...k }))),
      (k) => [esc(k.task), '<code>' + esc(k.name) + '</code>', k.priority === Infinity || k.priority === null ? '–' : esc(k.priority),
        k.lastSuccessAt ? esc(ago(k.lastSuccessAt)) + ' ago' : 'never', k.lastFailureAt ? '<span class="bad">' + esc(ago(k.lastFailureAt)) + ' ago</span>' : 'never',
        esc(k.failures), esc(k.failovers)]);

    const c = s.control || { ingestServers: [], encoders: [], streams: [] };
    table('ingest', ['id', 'type', 'address', 'ssl', 'connected', 'streams'], c.ingestServers,
      (i) => [esc(i.id), esc(i.type), esc((i.ip.includes(':') ? '[' + i.ip + ']' : i.ip) + ':' + i.port), i.ssl ? 'yes' : 'no', esc(ago(i.connectedAt)), esc(i.streams)]);
    table('encoders', ['id', 'address', 'connected', 'load / capacity', 'state', ''], c.encoders,
      (e) => ['<span class="encoder-id">' + esc(e.id) + '</span>', esc(e.ip), esc(ago(e.connectedAt)), bar(e.load, e.capacity), e.draining ? '<span class="warn">draining</span>' : 'taking streams',
        '<button type="button" class="act" data-action="drain-encoder" data-id="' + esc(e.id) + '" data-draining="' + (!e.draining) + '">' + (e.draining ? 'Undrain' : 'Drain') + '</button>']);
    table('streams', ['channel', 'stream id', 'age', 'ingest', 'encoder', 'sub-streams', 'callbacks', ''], c.streams,
      (a) => [esc(a.channel), '<code>' + esc(a.streamId) + '</code>', esc(ago(a.startedAt)), esc(a.method + ' #' + a.streamServer), a.encoder ? '#' + esc(a.encoder) : '<span class="warn">none</span>',
        a.substreams.length ? a.substreams.map((x) => esc(x.type + ' ' + x.resolution)).join('<br>') : '<span class="muted">none yet</span>',
        delivery(s.streamDelivery[a.channel + '/' + a.streamId]),
        '<button type="button" class="act danger" data-action="close-stream" data-channel="' + esc(a.channel) + '" data-stream-id="' + esc(a.streamId) + '">Close</button>']);
    $('streams-note').textContent = s.streamsNotShown ? '(' + s.streamsNotShown + ' more not shown)' : '';
    $('retry-dead').disabled = !o || o.deadLetters === 0;
    $('callbacks-note').textContent = o ? o.delivered + ' delivered and ' + o.retries + ' retries since start; ' + o.depth + ' waiting; ' + o.deadLetters + ' dead-lettered' + (o.unstored ? '; ' + o.unstored + ' waiting in memory (outbox cannot write)' : '') : 'event-callbacks is not configured';
    $('cluster-section').hidden = !s.cluster;
    if (s.cluster) {
      $('cluster-note').textContent = s.cluster.engine + ' engine · this node ' + s.cluster.nodeId + (s.cluster.fenced ? ' · FENCED (declared dead, not acting)' : '');
      table('cluster', ['node', 'up since', ''], s.cluster.members,
        (m) => [esc(m.node), esc(new Date(m.startedAt).toLocaleString()), m.node === s.cluster.nodeId ? 'this node' : '']);
    }
    table('audit', ['time', 'who', 'from', 'action', 'target', 'result'], s.audit,
      (a) => [esc(clock(a.at)), esc(a.actor), esc(a.ip), esc(a.action), esc(a.target), esc(a.result)]);
    renderErrors();
  }

  $('error-filter').addEventListener('input', renderErrors);

  // ------------------------------------------------------------ actions

  function toast(text, bad) {
    const el = $('toast');
    el.textContent = text;
    el.className = 'show' + (bad ? ' bad' : '');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.className = ''; }, 4000);
  }

  function confirmAction(question) {
    return new Promise((resolve) => {
      const dialog = $('confirm');
      $('confirm-text').textContent = question;
      dialog.returnValue = '';
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
    });
  }

  async function act(name, body, question) {
    if (!(await confirmAction(question))) return;
    try {
      const res = await fetch('/dashboard/actions/' + name, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify(body),
      });
      const answer = await res.json().catch(() => ({}));
      toast(answer.message || answer.error || ('answered ' + res.status), !res.ok);
    } catch (err) {
      toast('the coordinator did not answer: ' + err.message, true);
    }
  }

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button.act');
    if (!button) return;
    const d = button.dataset;
    if (d.action === 'close-stream') act('close-stream', { channel: d.channel, streamId: d.streamId }, 'Close stream ' + d.channel + ' (' + d.streamId + ')? Its ingest server gets STREAM-KILL.');
    if (d.action === 'drain-encoder') {
      const draining = d.draining === 'true';
      act('drain-encoder', { id: Number(d.id), draining }, (draining ? 'Drain encoder ' + d.id + '? It keeps its streams and takes no new ones.' : 'Let encoder ' + d.id + ' take new streams again?'));
    }
  });
  $('retry-dead').addEventListener('click', () => act('retry-dead-letters', {}, 'Send every dead-lettered callback again (same delivery ids)?'));

  // ------------------------------------------------------------ live feed

  // For scripts and tests that look at the page: the charts and the data behind them.
  window.coordinatorConsole = { plots, get history() { return history; } };

  const source = new EventSource('/dashboard/events');
  source.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'live'; };
  source.onerror = () => { $('conn').textContent = 'disconnected, retrying'; $('conn').className = 'down'; };
  source.onmessage = (e) => render(JSON.parse(e.data));
  source.addEventListener('history', (e) => { history = JSON.parse(e.data); buildCharts(); renderGlance(); });
  source.addEventListener('sample', (e) => appendSample(JSON.parse(e.data)));
})();
