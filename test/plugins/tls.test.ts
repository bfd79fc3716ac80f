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

function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
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
    const { port } = runtime.service<HttpServerService>('http.server').tlsAddress()!;
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
});
