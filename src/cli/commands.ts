import { InjectDataSource } from '@nestjs/typeorm';
import { Command, CommandRunner, Option } from 'nest-commander';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { ADMIN_ROLE } from '../auth/built-in-roles';
import { PasswordHasher } from '../auth/password-hasher';
import { UsersRepository } from '../auth/users.repository';
import { AppConfig } from '../core/config/app-config';
import { seedDatabase } from '../seed/seed';

/* eslint-disable no-console -- a CLI talks to its operator on stdout */

@Command({ name: 'migrate', description: 'Apply pending database migrations' })
export class MigrateCommand extends CommandRunner {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async run(): Promise<void> {
    const applied = await this.dataSource.runMigrations({ transaction: 'each' });
    console.log(
      applied.length ? `Applied ${applied.map((m) => m.name).join(', ')}` : 'Schema is up to date',
    );
  }
}

@Command({
  name: 'seed',
  description: 'Insert lookups, built-in roles and the first admin (idempotent)',
})
export class SeedCommand extends CommandRunner {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async run(): Promise<void> {
    const result = await seedDatabase(this.dataSource, {
      username: this.config.get('ADMIN_USERNAME'),
      email: this.config.get('ADMIN_EMAIL'),
      password: this.config.get('ADMIN_PASSWORD'),
    });
    if (result.generatedPassword) {
      console.log(
        `Created admin "${this.config.get('ADMIN_USERNAME')}" with generated password: ${result.generatedPassword}\n` +
          'It is shown this once; change it with POST /api/v1/auth/password.',
      );
    } else {
      console.log(
        result.adminCreated ? 'Created the first admin' : 'Seed data present; nothing changed',
      );
    }
  }
}

interface CreateAdminOptions {
  username: string;
  email: string;
  password: string;
  fullName?: string;
}

@Command({ name: 'create-admin', description: 'Create another administrator' })
export class CreateAdminCommand extends CommandRunner {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly audit: AuditService,
  ) {
    super();
  }

  async run(_: string[], options: CreateAdminOptions): Promise<void> {
    if (options.password.length < 12) throw new Error('--password must be at least 12 characters');
    if (await this.users.existsWithLogin(options.username, options.email)) {
      throw new Error('A user with this username or email already exists');
    }
    const passwordHash = await this.hasher.hash(options.password);
    await this.dataSource.transaction(async (manager) => {
      const user = await this.users.create(
        {
          username: options.username,
          email: options.email,
          fullName: options.fullName ?? 'Administrator',
          role: ADMIN_ROLE,
          passwordHash,
        },
        manager,
      );
      await this.audit.record(
        {
          action: 'user.create',
          resourceType: 'user',
          resourceId: user.id,
          actorId: null,
          details: { username: user.username, role: ADMIN_ROLE, via: 'cli' },
        },
        manager,
      );
    });
    console.log(`Created admin "${options.username}"`);
  }

  @Option({ flags: '-u, --username <username>', required: true })
  parseUsername(value: string): string {
    return value;
  }

  @Option({ flags: '-e, --email <email>', required: true })
  parseEmail(value: string): string {
    return value;
  }

  @Option({ flags: '-p, --password <password>', required: true })
  parsePassword(value: string): string {
    return value;
  }

  @Option({ flags: '-n, --full-name <name>' })
  parseFullName(value: string): string {
    return value;
  }
}

@Command({ name: 'verify-audit', description: 'Walk the audit hash chain; exit 1 if it is broken' })
export class VerifyAuditCommand extends CommandRunner {
  constructor(private readonly audit: AuditService) {
    super();
  }

  async run(): Promise<void> {
    const started = Date.now();
    const verdict = await this.audit.verify({});
    const seconds = (Date.now() - started) / 1000;
    console.log(JSON.stringify({ ...verdict, seconds }));
    if (!verdict.valid) process.exitCode = 1;
  }
}
