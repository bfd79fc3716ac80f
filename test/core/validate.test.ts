// Issue 11 §4: `coordinator validate` says exactly what `start` would refuse,
// once per problem, with the path once and a suggestion for near misses.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../bin/cli.js';

describe('coordinator validate tells the truth', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'coord-validate-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function validate(name: string, content: string): Promise<{ code: number; out: string; err: string }> {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['validate', '--config', file], { out: (t) => { out.push(t); }, err: (t) => { err.push(t); } });
    return { code, out: out.join(''), err: err.join('') };
  }
  const json = (value: unknown) => JSON.stringify(value);
  const base = { socketDir: '/tmp/cv', plugins: ['http-server', 'key-auth', 'http-ingress'] };

  const cases: Array<[string, string, string, RegExp]> = [
    ['options for a misspelled plugin', 'a.json', json({ ...base, pluginOptions: { 'http-servr': { port: 1 } } }),
      /config\.pluginOptions\.http-servr: no plugin named http-servr is configured \(did you mean http-server\?\) \[rule: plugin\]/],
    ['options for a plugin that is not configured', 'b.json', json({ ...base, pluginOptions: { 'event-callbacks': { concurrency: 2 } } }),
      /config\.pluginOptions\.event-callbacks: plugin event-callbacks is not in config\.plugins, so these options would be ignored: add it to plugins or remove them/],
    ['a URL that does not parse', 'c.json', json({ ...base, pluginOptions: { 'key-auth': { url: 'not a url' } } }),
      /plugins\.key-auth\.url: "not a url" is not a URL \(KEY_VERIFICATION_URL\): write an absolute http\(s\) URL \[rule: check\]/],
    ['a misspelled option, path once, with a suggestion', 'd.json', json({ ...base, pluginOptions: { 'key-auth': { timoutMs: 5 } } }),
      /^ {2}plugins\.key-auth\.timoutMs: is not a known option \(did you mean timeoutMs\?\) \[rule: additionalProperties\]$/m],
    ['a misspelled plugin name', 'e.json', json({ ...base, plugins: ['unix-transprt'] }),
      /config\.plugins\[0\]: no built-in plugin named unix-transprt \(did you mean unix-transport\?\)/],
    ['a port out of range', 'f.json', json({ ...base, externalPort: 70_000 }),
      /^ {2}config\.externalPort: must be <= 65535 \[rule: maximum\]$/m],
    ['a misspelled core key', 'g.json', json({ ...base, serviceNam: 'x' }),
      /config\.serviceNam: is not a known option \(did you mean serviceName\?\)/],
    ['plugins in the wrong order', 'h.json', json({ ...base, plugins: ['http-ingress', 'http-server'] }),
      /config\.plugins\[0\]: plugin http-ingress needs plugin http-server listed before it \[rule: dependencies\]/],
    ['a callback URL that is not http', 'i.json', json({ ...base, plugins: ['event-callbacks'], dataDir: '/tmp/cv-data', pluginOptions: { 'event-callbacks': { url: 'ftp://x/' } } }),
      /plugins\.event-callbacks\.url: ftp: is not http: or https: \(EVENT_CALLBACK_URL\)/],
    ['a federation peer without a scheme', 'j.json', json({ ...base, pluginOptions: { 'http-ingress': { federationPeers: ['10.0.0.1:8080'] } } }),
      /plugins\.http-ingress\.federationPeers\[0\]: must match pattern/],
    ['a plugin listed twice', 'k.json', json({ ...base, plugins: ['http-server', 'http-server'] }),
      /config\.plugins\[1\]: plugin http-server is listed twice \[rule: unique\]/],
    ['a TypeScript config without a default export', 'coordinator.config.ts', "export const config = { serviceName: 'x' };\n",
      /has no default export \(it exports config\): write export default defineConfig/],
    ['an auth mode the schema does not know', 'l.json', json({ ...base, commandsApi: { auth: 'Token' } }),
      /config\.commandsApi\.auth: must be one of "none", "basic", "bearer", "custom"/],
  ];

  for (const [title, name, content, expected] of cases) {
    it(title, async () => {
      const { code, err } = await validate(name, content);
      assert.equal(code, 1, err);
      assert.match(err, expected);
      const lines = err.split('\n').filter((l) => expected.test(l));
      assert.equal(lines.length, 1, `reported ${lines.length} times:\n${err}`);
      assert.doesNotMatch(err, /config\.config is not a known option/);
      for (const line of err.split('\n').filter((l) => l.startsWith('  '))) {
        const [pathPart, rest] = line.trim().split(': ');
        assert.ok(!rest?.includes(pathPart!), `the path is printed twice: ${line}`);
      }
    });
  }

  it('a credential mode without its secret is a warning: valid, but reported', async () => {
    const { code, out, err } = await validate('m.json', json({ socketDir: '/tmp/cv', plugins: ['http-server', 'operations'], commandsApi: { auth: 'Custom' } }));
    assert.equal(code, 0, err);
    assert.match(out, /configuration is valid \(1 warning\)/);
    assert.match(err, /warning: plugins\.operations: COMMANDS_API_AUTH=Custom without COMMANDS_API_AUTH_CUSTOM: the commands API, \/status and \/dashboard stay closed/);
  });

  it('"Bearer" is accepted as the variable spells it', async () => {
    const { code, err } = await validate('n.json', json({ socketDir: '/tmp/cv', plugins: ['http-server', 'operations'], commandsApi: { auth: 'Bearer', token: 'tok-tok-tok' } }));
    assert.equal(code, 0, err);
    assert.equal(err, '');
  });
});
