// The console's pages: sign-in, and the console itself (its script and
// styles are served from /dashboard/assets/, see console-assets.ts). The
// page carries the session's CSRF token, which every action echoes.

const escapeAttr = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

export const LOGIN_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Coordinator console: sign in</title>
<style>:root{color-scheme:light dark}body{font:15px system-ui,sans-serif;margin:3rem auto;max-width:28rem;padding:0 1rem}input{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}button{padding:.5rem 1rem}</style></head>
<body><h1>Coordinator console</h1>
<p>Sign in with the commands API credential: the whole <code>Authorization</code> value, e.g. <code>Bearer &lt;COMMANDS_API_AUTH_TOKEN&gt;</code>.</p>
<form method="post" action="/dashboard/login"><input name="authorization" type="password" placeholder="Bearer …" autofocus><button type="submit">Sign in</button></form>
</body></html>`;

export function consoleHtml(csrf: string, actor: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${escapeAttr(csrf)}">
<title>Coordinator console</title>
<link rel="stylesheet" href="/dashboard/assets/uplot.css"><link rel="stylesheet" href="/dashboard/assets/console.css">
<script src="/dashboard/assets/uplot.js" defer></script><script src="/dashboard/assets/console.js" defer></script>
</head>
<body>
<header>
  <h1>Coordinator</h1>
  <div class="meta"><span id="conn">connecting…</span> · <span id="status"></span> · up <span id="uptime"></span> · since <span id="started"></span></div>
  <div class="tools"><span class="who">${escapeAttr(actor)}</span>
    <button type="button" id="theme" title="Switch between light and dark">◐ theme</button>
    <form method="post" action="/dashboard/logout"><button type="submit" id="sign-out">Sign out</button></form></div>
</header>
<section class="cards" aria-label="at a glance">
  <div class="card" id="card-flow">requests/s<b id="rate">–</b><small id="rate-note"></small></div>
  <div class="card" id="card-fail">errors (5 min)<b id="error-ratio">–</b><small id="last-error"></small></div>
  <div class="card" id="card-slow">latency p99<b id="p99">–</b><small id="p50"></small></div>
  <div class="card">in flight<b id="inflight">–</b></div>
  <div class="card">encoders<b id="encoder-count">–</b><small>load <span id="load">–</span></small></div>
  <div class="card">active streams<b id="stream-count">–</b><small id="publish-note"></small></div>
  <div class="card">callback outbox<b id="outbox">–</b><small id="outbox-note"></small></div>
  <div class="card">proxied streams<b id="proxy">–</b><small id="proxy-note"></small></div>
</section>
<section class="charts" aria-label="history">
  <figure><figcaption>Requests/s by outcome</figcaption><div class="chart" id="chart-requests"></div></figure>
  <figure><figcaption>Latency, ms</figcaption><div class="chart" id="chart-latency"></div></figure>
  <figure><figcaption>Publishes per minute</figcaption><div class="chart" id="chart-publishes"></div><ol class="reasons" id="denials"></ol></figure>
  <figure><figcaption>Callbacks/s; outbox depth and oldest (right)</figcaption><div class="chart" id="chart-callbacks"></div></figure>
  <figure><figcaption>Stream proxy, MiB/s</figcaption><div class="chart" id="chart-proxy"></div></figure>
  <figure><figcaption>Encoder load</figcaption><div class="chart" id="chart-encoders"></div></figure>
</section>
<h2>Recent errors <input type="search" id="error-filter" placeholder="filter: code, task, request id" aria-label="filter recent errors"></h2>
<div class="scroll"><table id="errors"></table></div>
<h2>Providers per task</h2><div class="scroll"><table id="providers"></table></div>
<h2>Active streams <span class="note" id="streams-note"></span></h2><div class="scroll"><table id="streams"></table></div>
<h2>Encoders</h2><div class="scroll"><table id="encoders"></table></div>
<h2>Ingest servers</h2><div class="scroll"><table id="ingest"></table></div>
<h2>Callbacks <button type="button" id="retry-dead" disabled>Retry dead letters</button></h2><p class="note" id="callbacks-note"></p>
<section id="cluster-section" hidden><h2>Cluster members <span class="note" id="cluster-note"></span></h2><div class="scroll"><table id="cluster"></table></div></section>
<h2>Audit log</h2><div class="scroll"><table id="audit"></table></div>
<dialog id="confirm"><form method="dialog"><p id="confirm-text"></p>
  <menu><button value="cancel" id="confirm-no">Cancel</button><button value="ok" id="confirm-yes" class="danger">Confirm</button></menu></form></dialog>
<div id="toast" role="status" aria-live="polite"></div>
</body></html>`;
}
