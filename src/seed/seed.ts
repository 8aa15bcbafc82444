import { DataSource, EntityManager } from 'typeorm';
import { BUILT_IN_ROLES } from '../auth/built-in-roles';
import { ACTIVITY_TYPES, LOOKUP_ROWS } from './lookups';

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Inserts lookups and built-in roles. Idempotent: existing rows are left as they are. */
export async function seedReferenceData(dataSource: DataSource): Promise<void> {
  await dataSource.transaction(async (manager) => insertReferenceData(manager));
}

async function insertReferenceData(manager: EntityManager): Promise<void> {
  {
    for (const [code, description] of Object.entries(ACTIVITY_TYPES)) {
      await manager.query(
        'INSERT INTO activity_types (code, description) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING',
        [code, description],
      );
    }
    for (const { table, rows } of LOOKUP_ROWS) {
      for (const row of rows) {
        const columns = Object.keys(row);
        await manager.query(
          `INSERT INTO ${table} (${columns.map(snake).join(', ')})
           VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`,
          Object.values(row),
        );
      }
    }
    for (const role of BUILT_IN_ROLES) {
      await manager.query(
        `INSERT INTO roles (name, description, permissions, is_built_in) VALUES ($1, $2, $3, true)
         ON CONFLICT (name) DO NOTHING`,
        [role.name, role.description, JSON.stringify(role.permissions)],
      );
    }
  }
}
