import type { ObjectLiteral, Repository } from 'typeorm';

/**
 * The select list TypeORM would build for an entity (`"db_name" AS "property"` for every
 * column it selects by default), so a hot read can be one plain SQL string made once
 * and its row handed to `repository.create()`. The query builder re-generates and
 * re-maps the SQL on every call: most of a small request's CPU in `bench:api`.
 */
export function plainSelectList(
  repository: Repository<ObjectLiteral>,
  tableAlias?: string,
): string {
  const prefix = tableAlias ? `${tableAlias}.` : '';
  return repository.metadata.columns
    .filter((column) => column.isSelect && !column.isVirtual && !column.embeddedMetadata)
    .map((column) => `${prefix}"${column.databaseName}" AS "${column.propertyName}"`)
    .join(', ');
}
