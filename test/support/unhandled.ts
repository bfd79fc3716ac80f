// Root hooks for the whole suite: an unhandled promise rejection or an
// uncaught exception anywhere (in a test, in the runtime under test, in a
// plugin's background work) fails the test during which it happened.
const caught: unknown[] = [];
const record = (reason: unknown) => { caught.push(reason); };

export const mochaHooks = {
  beforeAll(): void {
    process.on('unhandledRejection', record);
  },
  afterEach(): void {
    if (caught.length === 0) return;
    const first = caught.splice(0);
    throw new Error(`unhandled rejection during this test: ${first.map((r) => (r instanceof Error ? r.stack ?? r.message : String(r))).join('\n')}`);
  },
  afterAll(): void {
    process.off('unhandledRejection', record);
    if (caught.length > 0) throw new Error(`unhandled rejection after the last test: ${String(caught[0])}`);
  },
};
