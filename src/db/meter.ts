/**
 * Counts the statements this isolate sends to D1 (each statement of a batch counts), so a
 * benchmark can say how many D1 statements a thousand verifies cost. The count is per isolate:
 * under `wrangler dev` the Worker, its objects and its queue consumers share one, so it is the
 * whole service's; in production each isolate counts its own (read it as a sample).
 */

const counts = { statements: 0, batches: 0, since: new Date().toISOString() };

export function d1Meter(): { statements: number; batches: number; since: string } {
  return { ...counts };
}

const METERED = Symbol("metered");
const wrapped = new WeakMap<D1Database, D1Database>();

/** The binding under a metered one (the meter's own report must not count itself). */
export function unmeteredD1(db: D1Database): D1Database {
  return (db as unknown as Record<symbol, D1Database | undefined>)[UNDERLYING] ?? db;
}
const UNDERLYING = Symbol("underlying");

/** `db` with every statement it runs counted. Same behaviour otherwise. */
export function meteredD1(db: D1Database): D1Database {
  if ((db as unknown as Record<symbol, boolean>)[METERED]) return db;
  const known = wrapped.get(db);
  if (known) return known;
  const metered = {
    [METERED]: true,
    [UNDERLYING]: db,
    prepare: (query: string) => meteredStatement(db.prepare(query)),
    batch: <T>(statements: D1PreparedStatement[]) => {
      counts.statements += statements.length;
      counts.batches++;
      return db.batch<T>(statements.map(unwrap));
    },
    exec: (query: string) => {
      counts.statements++;
      return db.exec(query);
    },
    dump: () => db.dump(),
    withSession: (constraint?: string) => db.withSession(constraint),
  } as unknown as D1Database;
  wrapped.set(db, metered);
  return metered;
}

const INNER = Symbol("inner");

function meteredStatement(statement: D1PreparedStatement): D1PreparedStatement {
  const count = <T>(run: () => T): T => {
    counts.statements++;
    return run();
  };
  return {
    [INNER]: statement,
    bind: (...values: unknown[]) => meteredStatement(statement.bind(...values)),
    first: (column?: string) => count(() => (column === undefined ? statement.first() : statement.first(column))),
    run: () => count(() => statement.run()),
    all: () => count(() => statement.all()),
    raw: (options?: { columnNames?: boolean }) =>
      count(() => (options?.columnNames ? statement.raw({ columnNames: true }) : statement.raw())),
  } as unknown as D1PreparedStatement;
}

function unwrap(statement: D1PreparedStatement): D1PreparedStatement {
  return (statement as unknown as Record<symbol, D1PreparedStatement>)[INNER] ?? statement;
}

/** The env with its D1 binding metered (the same object for the same env). */
const envs = new WeakMap<object, object>();
export function meteredEnv<E extends { DB: D1Database }>(env: E): E {
  const known = envs.get(env);
  if (known) return known as E;
  const metered = { ...env, DB: meteredD1(env.DB) };
  envs.set(env, metered);
  return metered;
}
