// @ts-check
// The bundled configuration: `npm start` runs the coordinator with it.
// Every key is optional; see docs/configuration.md for the full list.
// Plain JavaScript (typed for editors by the comment below), so that starting
// needs no TypeScript loader; a coordinator.config.ts works the same way.

/** @type {import('coordinator-runtime').CoordinatorConfig} */
export default {
  serviceName: 'coordinator',
  socketDir: '/tmp/cerana',
  externalPort: 8080,
  bindAddress: '127.0.0.1',
  requestTimeoutMs: 60_000,
  logLevel: 'info',
  // The acomm side (unix sockets, HTTP ingress, stream proxy) and the streaming
  // side (key auth, event callbacks, control channels). The streaming side reads
  // the original's environment variables (CONTROL_SECRET, KEY_VERIFICATION_URL,
  // EVENT_CALLBACK_URL, COMMANDS_API_AUTH, HTTP_PORT, …); without CONTROL_SECRET
  // its control channels stay closed and everything else runs.
  // Operations: /healthz, /readyz, /metrics, /status and the console at /dashboard.
  plugins: ['unix-transport', 'http-server', 'http-ingress', 'stream-proxy', 'key-auth', 'event-callbacks', 'streaming-control', 'operations'],
};
