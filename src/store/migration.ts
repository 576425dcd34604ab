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

export function latestVersion(migrations: readonly Migration[]): number {
  return migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
}
