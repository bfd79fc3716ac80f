// TLS on the HTTP listener, with the certificate replaced while connections
// are open: new connections get the new certificate, no restart.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import https from 'node:https';
import { httpServer, operations, type HttpServerService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay } from '../support/runtime.js';
import { makeCert } from '../support/certs.js';

function makeCa(dir: string): { caCert: string; clientCert: string; clientKey: string } {
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.crt');
  const clientKey = path.join(dir, 'client.key');
  const csr = path.join(dir, 'client.csr');
  const clientCert = path.join(dir, 'client.crt');
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', caKey, '-out', caCert]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client', '-keyout', clientKey, '-out', csr]);
  run(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-out', clientCert]);
  return { caCert, clientCert, clientKey };
}

function peerCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const subject = socket.getPeerCertificate().subject.CN as string;
      socket.end();
      resolve(subject);
    });
    socket.on('error', reject);
  });
}

describe('TLS listener with certificate reload', function () {
  this.timeout(30_000);
  let dir: string;
  let runtime: Coordinator;

  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'coord-tls-')); });
  after(async () => {
    await runtime?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS, reloads a replaced certificate without a restart, keeps open connections', async () => {
    const first = makeCert(dir, 'first');
    const certFile = path.join(dir, 'server.crt');
    const keyFile = path.join(dir, 'server.key');
    renameSync(first.cert, certFile);
    renameSync(first.key, keyFile);
    runtime = makeRuntime({}, [httpServer({ port: 0, tls: { port: 0, certFile, keyFile, checkReloadMs: 50 } }), operations({ processMetrics: false })]);
    await runtime.start();
    const { port } = runtime.service('http.server').tlsAddress()!;
    assert.equal(await peerCertificate(port), 'first');

    // An open keep-alive connection, before the swap.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const getOn = () => new Promise<{ status: number; cn: string }>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
        const cn = (res.socket as tls.TLSSocket).getPeerCertificate().subject.CN as string;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cn }));
      }).on('error', reject);
    });
    assert.deepEqual(await getOn(), { status: 200, cn: 'first' });

    const second = makeCert(dir, 'second');
    renameSync(second.key, keyFile);
    renameSync(second.cert, certFile);
    let subject = '';
    for (let i = 0; i < 100 && subject !== 'second'; i += 1) {
      await delay(30);
      subject = await peerCertificate(port);
    }
    assert.equal(subject, 'second', 'new connections get the new certificate');
    assert.deepEqual(await getOn(), { status: 200, cn: 'first' }, 'the open connection keeps working with its certificate');
    agent.destroy();
  });

  it('mutual TLS: only clients with a certificate from the configured CA get through', async () => {
    await runtime.stop();
    const server = makeCert(dir, 'mtls-server');
    const { caCert, clientCert, clientKey } = makeCa(dir);
    runtime = makeRuntime({}, [httpServer({ port: 0, tls: { port: 0, certFile: server.cert, keyFile: server.key, clientCaFile: caCert } }), operations({ processMetrics: false })]);
    await runtime.start();
    const { port } = runtime.service('http.server').tlsAddress()!;
    const request = (extra: https.RequestOptions) => new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, agent: false, ...extra }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
    await assert.rejects(request({}), /certificate|alert|socket hang up|ECONNRESET/);
    const { readFileSync } = await import('node:fs');
    assert.equal(await request({ cert: readFileSync(clientCert), key: readFileSync(clientKey) }), 200);
  });
});
