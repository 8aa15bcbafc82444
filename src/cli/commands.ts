import { InjectDataSource } from '@nestjs/typeorm';
import { Command, CommandRunner, Option } from 'nest-commander';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { AuthErrorCode, AuthException } from '../auth/auth.exception';
import { UsersService } from '../auth/users.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { seedReferenceData } from '../seed/seed';

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
    private readonly users: UsersService,
  ) {
    super();
  }

  async run(): Promise<void> {
    await seedReferenceData(this.dataSource);
    const result = await this.users.ensureFirstAdmin({
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
  constructor(private readonly users: UsersService) {
    super();
  }

  async run(_: string[], options: CreateAdminOptions): Promise<void> {
    if (options.password.length < 12) throw new Error('--password must be at least 12 characters');
    try {
      await this.users.createAdmin(options, 'cli');
    } catch (error) {
      if (
        error instanceof AuthException &&
        (error.code as AuthErrorCode) === AuthErrorCode.UserExists
      )
        throw new Error('A user with this username or email already exists');
      throw error;
    }
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
  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {
    super();
  }

  async run(): Promise<void> {
    const started = this.clock.nowMs();
    const verdict = await this.audit.verify({});
    const seconds = (this.clock.nowMs() - started) / 1000;
    console.log(JSON.stringify({ ...verdict, seconds }));
    if (!verdict.valid) process.exitCode = 1;
  }
}
