// Task argument schemas (validated before dispatch, handler args typed from
// the schema) and typed calls for declared tasks.
import assert from 'node:assert/strict';
import path from 'node:path';
import { defineTask, inProcessProvider, unixTransport, type FromSchema } from '../../index.js';
import { createTestRuntime, startFakeProvider } from '../../testing/index.js';
import { tempSocketDir } from '../support/sockets.js';

declare module '../../core/schema-types.js' {
  interface TaskTypes {
    Add: { args: { a: number; b: number }; result: number };
  }
}

const addSchema = { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false } as const;

describe('task schemas and typed tasks', () => {
  it('validates args before dispatch with a clear ERR_BAD_REQUEST; the handler sees typed args', async () => {
    let handled = 0;
    const t = createTestRuntime({
      plugins: [inProcessProvider({ tasks: { Add: defineTask(addSchema, (args) => { handled += 1; return args.a + args.b; }) } })],
    });
    await t.start();
    try {
      assert.equal(await t.runtime.call('Add', { a: 2, b: 3 }), 5);
      const bad = await t.request({ task: 'Add', args: { a: 'two' } });
      assert.equal(bad.errorCode, 'ERR_BAD_REQUEST');
      assert.equal(bad.error, "Add: args must have required property 'b'; args.a must be number");
      assert.equal(handled, 1, 'the handler ran for invalid args');
      // Types: the declared task's args and result are checked at compile time.
      const sum: number = await t.runtime.call('Add', { a: 1, b: 1 });
      assert.equal(sum, 2);
      // @ts-expect-error: b is missing
      await t.runtime.call('Add', { a: 1 }).catch(() => undefined);
      // Undeclared tasks stay open: any args, a result type of your choosing.
      await t.runtime.call<string>('Other', { x: 1 }).catch(() => undefined);
      const typed: FromSchema<typeof addSchema> = { a: 1, b: 2 };
      assert.equal(typed.a + typed.b, 3);
    } finally {
      await t.stop();
    }
  });

  it('a task declared for unix providers is checked before it is sent', async () => {
    const { dir, cleanup } = tempSocketDir();
    const t = createTestRuntime({ config: { socketDir: dir, serviceName: 'ts' }, plugins: [unixTransport({ taskSchemas: { Add: addSchema } })] });
    await t.start();
    let sent = 0;
    const provider = await startFakeProvider({ socketDir: dir, name: 'p', coordinatorUrl: `unix://${path.join(dir, 'coordinator', 'ts.sock')}`, tasks: { Add: (args: { a: number; b: number }) => { sent += 1; return args.a + args.b; } } });
    try {
      assert.equal((await t.request({ task: 'Add', args: { a: 1, b: 2 } })).result, 3);
      const bad = await t.request({ task: 'Add', args: { a: 1, b: 2, c: 3 } });
      assert.equal(bad.errorCode, 'ERR_BAD_REQUEST');
      assert.match(bad.error, /args must NOT have additional properties/);
      assert.equal(sent, 1);
    } finally {
      await provider.stop();
      await t.stop();
      cleanup();
    }
  });
});
