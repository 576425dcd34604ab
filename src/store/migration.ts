/**
 * One step of a store's schema, numbered from 1 per dialect. A migration, once released, never
 * changes: a new need gets a new number. Each store records what it applied in schema_migrations.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Thrown when the database was migrated by a newer server than this one. */
export class SchemaTooNewError extends Error {
  override readonly name = "SchemaTooNewError";
  constructor(found: number, known: number) {
    super(`the task store's schema is at version ${found}, newer than this server knows (${known}); upgrade the server`);
  }
}

function latestVersion(migrations: readonly Migration[]): number {
  return migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
}

/**
 * The steps still to apply, in order, given the versions schema_migrations records. A database
 * that records a version this server does not know was migrated by a newer one: SchemaTooNewError.
 */
export function pendingMigrations(migrations: readonly Migration[], applied: Iterable<number>): Migration[] {
  const done = new Set(applied);
  const known = latestVersion(migrations);
  const newest = Math.max(0, ...done);
  if (newest > known) throw new SchemaTooNewError(newest, known);
  return migrations.filter((migration) => !done.has(migration.version));
}
