import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { UsersService } from '../../src/auth/users.service';
import { CliModule } from '../../src/cli/cli.module';
import { CreateAdminCommand, SeedCommand } from '../../src/cli/commands';

/** The CLI creates users only through UsersService: one way, hashed, unique, audited. */
describe('CLI user creation goes through UsersService', () => {
  let cli: INestApplicationContext;
  let db: DataSource;

  beforeAll(async () => {
    cli = await NestFactory.createApplicationContext(CliModule, { logger: false });
    db = cli.get(DataSource);
  });
  afterAll(() => cli.close());

  const userCount = async () =>
    Number((await db.query<{ n: string }[]>('SELECT count(*) AS n FROM users'))[0]!.n);

  it('create-admin creates an admin with a hashed password and a user.create audit entry via cli', async () => {
    const username = `cli-admin-${randomBytes(4).toString('hex')}`;
    const options = { username, email: `${username}@example.test`, password: 'a-long-password-1' };
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await cli.get(CreateAdminCommand).run([], options);
    } finally {
      log.mockRestore();
    }
    const [user] = await db.query<{ id: string; role: string; password_hash: string }[]>(
      'SELECT id, role, password_hash FROM users WHERE username = $1',
      [username],
    );
    expect(user).toMatchObject({ role: 'admin' });
    expect(user!.password_hash).toMatch(/^\$argon2/);
    const [entry] = await db.query<{ actor_id: string | null; details: Record<string, unknown> }[]>(
      `SELECT actor_id, details FROM audit_logs WHERE action = 'user.create' AND resource_id = $1`,
      [user!.id],
    );
    expect(entry).toEqual({ actor_id: null, details: { username, role: 'admin', via: 'cli' } });
    // The same login again is refused, and nothing is written.
    const before = await userCount();
    await expect(cli.get(CreateAdminCommand).run([], options)).rejects.toThrow(/already exists/);
    expect(await userCount()).toBe(before);
  });

  it('seed is idempotent: with an admin present it creates nobody', async () => {
    const before = await userCount();
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await cli.get(SeedCommand).run();
      expect(log).toHaveBeenCalledWith('Seed data present; nothing changed');
    } finally {
      log.mockRestore();
    }
    expect(await userCount()).toBe(before);
    await expect(
      cli.get(UsersService).ensureFirstAdmin({ username: 'someone-new', email: 'n@example.test' }),
    ).resolves.toEqual({ adminCreated: false });
  });
});
