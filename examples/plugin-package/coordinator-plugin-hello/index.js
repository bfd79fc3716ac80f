// coordinator-plugin-hello: serves the task Hello through the in-process
// provider and counts greetings in a service other plugins can use.
// A config loads it by name: plugins: ['inproc-provider', 'coordinator-plugin-hello'].
import { definePlugin, defineTask } from 'coordinator-runtime';

export default definePlugin({
  name: 'coordinator-plugin-hello',
  version: '1.0.0',
  dependencies: ['inproc-provider'],
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { greeting: { type: 'string', minLength: 1, default: 'hello', description: 'The word to greet with.' } },
  },
  apply(api, options) {
    let count = 0;
    const nameSchema = { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] };
    api.service('inproc.tasks').register('Hello', defineTask(nameSchema, (args) => {
      count += 1;
      return `${options.greeting} ${args.name}`;
    }));
    api.provide('hello.counter', { count: () => count });
  },
});
