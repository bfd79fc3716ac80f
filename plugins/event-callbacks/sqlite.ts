// The outbox's SQLite, from whichever driver the running Node has: the
// built-in node:sqlite (Node 22.13+, 24) or the better-sqlite3 package
// (Node 20; an optional peer dependency, installed only by those who need
// it). Both are synchronous and in-process; this is the small surface the
// outbox uses, with better-sqlite3's nested-transaction behaviour.

import { createRequire } from 'node:module';
import { CoordinatorError } from '../../core/errors.js';

export interface SqliteStatement {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): any;
  all(...params: unknown[]): any[];
}

export interface SqliteDatabase {
  readonly driver: 'node:sqlite' | 'better-sqlite3';
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  /** Wrap `fn` so that it runs in one transaction (a savepoint when nested). */
  transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T;
  /** The first column of `PRAGMA <text>`'s first row. */
  pragma(text: string): unknown;
  close(): void;
}

const require = createRequire(import.meta.url);

interface NodeSqlite {
  DatabaseSync: new (file: string) => { prepare(sql: string): SqliteStatement; exec(sql: string): void; close(): void };
}

function builtin(): NodeSqlite | undefined {
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (!getBuiltin) return undefined;
  // Node 22 calls the module experimental once, on load; the outbox's use of it is tested here, so say nothing.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(typeof warning === 'string' ? warning : warning.message).startsWith('SQLite is an experimental feature')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return getBuiltin('node:sqlite') as NodeSqlite | undefined;
  } catch {
    return undefined; // older Node 22 behind --experimental-sqlite
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Which driver openSqlite would use here, or undefined when none is available. */
export function sqliteDriver(): SqliteDatabase['driver'] | undefined {
  if (builtin()) return 'node:sqlite';
  try {
    require.resolve('better-sqlite3');
    return 'better-sqlite3';
  } catch {
    return undefined;
  }
}

export const SQLITE_MISSING = `event-callbacks needs SQLite for its durable outbox: Node ${process.versions.node} has no node:sqlite (Node 22.13+ does), so install the better-sqlite3 package (npm install better-sqlite3)`;

function fromBuiltin(mod: NodeSqlite, file: string): SqliteDatabase {
  const db = new mod.DatabaseSync(file);
  let depth = 0;
  const statements = new Map<string, SqliteStatement>();
  const self: SqliteDatabase = {
    driver: 'node:sqlite',
    prepare: (sql) => db.prepare(sql),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => (...args) => {
      const savepoint = `sp${depth}`;
      db.exec(depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${savepoint}`);
      depth += 1;
      try {
        const result = fn(...args);
        depth -= 1;
        db.exec(depth === 0 ? 'COMMIT' : `RELEASE ${savepoint}`);
        return result;
      } catch (err) {
        depth -= 1;
        try {
          db.exec(depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
        } catch {
          // the failure that made us roll back is the one to report
        }
        throw err;
      }
    },
    pragma(text) {
      let statement = statements.get(text);
      if (!statement) {
        statement = db.prepare(`PRAGMA ${text}`);
        statements.set(text, statement);
      }
      const row = statement.get() as Record<string, unknown> | undefined;
      return row ? Object.values(row)[0] : undefined;
    },
    close: () => db.close(),
  };
  return self;
}

interface BetterSqlite {
  new (file: string, options?: { timeout?: number }): {
    prepare(sql: string): SqliteStatement;
    exec(sql: string): void;
    transaction<F extends (...args: any[]) => any>(fn: F): F;
    pragma(text: string, options?: { simple?: boolean }): unknown;
    close(): void;
  };
}

function fromBetterSqlite(file: string): SqliteDatabase {
  let Database: BetterSqlite;
  try {
    Database = require('better-sqlite3') as BetterSqlite;
  } catch (cause) {
    throw new CoordinatorError('ERR_PLUGIN_OPTIONS', SQLITE_MISSING, { cause });
  }
  const db = new Database(file, { timeout: 0 });
  return {
    driver: 'better-sqlite3',
    prepare: (sql) => db.prepare(sql),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    pragma: (text) => db.pragma(text, { simple: true }),
    close: () => db.close(),
  };
}

/** Open `file` with the built-in driver when the running Node has it, else better-sqlite3. */
export function openSqlite(file: string, options: { driver?: SqliteDatabase['driver'] } = {}): SqliteDatabase {
  const mod = options.driver === 'better-sqlite3' ? undefined : builtin();
  if (mod) return fromBuiltin(mod, file);
  if (options.driver === 'node:sqlite') throw new CoordinatorError('ERR_PLUGIN_OPTIONS', `node:sqlite is not available on Node ${process.versions.node}`);
  return fromBetterSqlite(file);
}
