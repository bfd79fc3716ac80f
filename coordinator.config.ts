// The bundled configuration: `npm start` runs the coordinator with it.
// Every key is optional; see docs/configuration.md for the full list.
import { defineConfig } from './index.js';

export default defineConfig({
  serviceName: 'coordinator',
  socketDir: '/tmp/cerana',
  externalPort: 8080,
  bindAddress: '127.0.0.1',
  requestTimeoutMs: 60_000,
  logLevel: 'info',
  plugins: ['unix-transport', 'http-server', 'http-ingress', 'stream-proxy'],
});
