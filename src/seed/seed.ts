import { randomBytes } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository';
import { ADMIN_ROLE, BUILT_IN_ROLES } from '../auth/built-in-roles';
import { PasswordHasher } from '../auth/password-hasher';
import { Clock, systemClock } from '../core/clock/clock';
import { ACTIVITY_TYPES, LOOKUP_ROWS } from './lookups';

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export interface AdminSeed {
  username: string;
  email: string;
  /** When absent and no admin exists yet, a strong password is generated and returned once. */
  password?: string;
}

export interface SeedResult {
  adminCreated: boolean;
  generatedPassword?: string;
}

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

/**
 * Test and benchmark fixtures only: reference data and the first admin into a bare
 * database, without booting the application. The product's seed (`npm start`, `npm run
 * seed`) is the CLI's SeedCommand, which creates the admin through UsersService.
 */
export async function seedDatabase(
  dataSource: DataSource,
  admin: AdminSeed,
  clock: Clock = systemClock,
): Promise<SeedResult> {
  return dataSource.transaction(async (manager) => {
    await insertReferenceData(manager);
    const [existing] = await manager.query<{ id: string }[]>(
      'SELECT id FROM users WHERE lower(username) = lower($1) OR role = $2 LIMIT 1',
      [admin.username, ADMIN_ROLE],
    );
    if (existing) return { adminCreated: false };

    const generatedPassword = admin.password ? undefined : randomBytes(18).toString('base64url');
    const passwordHash = await new PasswordHasher().hash(admin.password ?? generatedPassword!);
    const [created] = await manager.query<{ id: string }[]>(
      `INSERT INTO users (username, email, full_name, password_hash, role)
       VALUES ($1, $2, 'Administrator', $3, $4) RETURNING id`,
      [admin.username, admin.email, passwordHash, ADMIN_ROLE],
    );
    await new AuditRepository(dataSource).append(
      {
        occurredAt: clock.now(),
        actorId: null,
        actorIp: null,
        userAgent: 'seed',
        action: 'user.create',
        resourceType: 'user',
        resourceId: created!.id,
        caseId: null,
        outcome: 'success',
        details: { username: admin.username, role: ADMIN_ROLE, seeded: true },
        requestId: null,
      },
      manager,
    );
    return { adminCreated: true, generatedPassword };
  });
}
