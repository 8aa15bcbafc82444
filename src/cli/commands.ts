import { InjectDataSource } from '@nestjs/typeorm';
import { Command, CommandRunner, Option } from 'nest-commander';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { AuthErrorCode, AuthException } from '../auth/auth.exception';
import { UsersRepository } from '../auth/users.repository';
import { UsersService } from '../auth/users.service';
import { createApp } from '../app.factory';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { createDemoData, DEMO_ADMIN, demoPassword } from '../seed/demo-data';
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
  description:
    'Insert lookups, built-in roles and the first admin (idempotent); --demo adds demo data',
})
export class SeedCommand extends CommandRunner {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly usersRepository: UsersRepository,
  ) {
    super();
  }

  @Option({
    flags: '--demo',
    description:
      'also create demo users (passwords printed once), cases, audio, transcriptions, ' +
      'analyses and a live conversation',
  })
  parseDemo(): boolean {
    return true;
  }

  async run(_: string[] = [], options: { demo?: boolean } = {}): Promise<void> {
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
    if (options.demo) await this.seedDemo();
  }

  /**
   * The demo goes through the public API of an instance started here on a loopback port
   * (with its workers, so the turns get persisted), signed in as a demo admin created
   * for it: the data is exactly what clients would have created, audit trail included.
   */
  private async seedDemo(): Promise<void> {
    if (await this.usersRepository.findForLogin(DEMO_ADMIN)) {
      console.log(`Demo data present ("${DEMO_ADMIN}" exists); nothing changed`);
      return;
    }
    const password = demoPassword();
    await this.users.createAdmin(
      {
        username: DEMO_ADMIN,
        email: `${DEMO_ADMIN}@demo.verbatim.invalid`,
        password,
        fullName: 'Demo Admin',
      },
      'seed',
    );
    const app = await createApp();
    try {
      await app.listen(0, '127.0.0.1');
      const summary = await createDemoData(
        await app.getUrl(),
        { username: DEMO_ADMIN, password },
        (line) => console.log(`demo: ${line}`),
      );
      const accounts = [{ username: DEMO_ADMIN, role: 'admin', password }, ...summary.accounts];
      console.log(
        `Demo data: ${summary.cases} cases, ${summary.audio} audio files with transcriptions ` +
          `and analyses, a conversation with ${summary.conversationTurns} turns.\n` +
          'Demo accounts (passwords are shown this once):',
      );
      for (const account of accounts) {
        console.log(
          `  ${account.username.padEnd(18)} ${account.role.padEnd(12)} ${account.password}`,
        );
      }
    } finally {
      await app.close();
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
