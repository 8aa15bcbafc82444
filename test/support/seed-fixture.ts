import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditRepository } from '../../src/audit/audit.repository';
import { ADMIN_ROLE } from '../../src/auth/built-in-roles';
import { PasswordHasher } from '../../src/auth/password-hasher';
import { Clock, systemClock } from '../../src/core/clock/clock';
import { seedReferenceData } from '../../src/seed/seed';

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

/**
 * Test and benchmark fixture: reference data and a first admin in a bare database, before
 * any application is booted (Jest's global setup, isolated databases, benchmark runs). The
 * product creates users only through UsersService (`npm start` seeds through the CLI's
 * SeedCommand); this fixture writes the same row and audit entry directly because it runs
 * where no application context exists yet.
 */
export async function seedDatabase(
  dataSource: DataSource,
  admin: AdminSeed,
  clock: Clock = systemClock,
): Promise<SeedResult> {
  await seedReferenceData(dataSource);
  return dataSource.transaction(async (manager) => {
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
