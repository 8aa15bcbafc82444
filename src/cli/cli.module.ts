import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ConfigModule } from '../core/config/config.module';
import { DatabaseModule } from '../core/database/database.module';
import { HttpModule } from '../core/http/http.module';
import { RedisModule } from '../core/redis/redis.module';
import { SecurityModule } from '../core/security/security.module';
import { CreateAdminCommand, MigrateCommand, SeedCommand, VerifyAuditCommand } from './commands';

@Module({
  imports: [
    ConfigModule,
    HttpModule,
    DatabaseModule,
    RedisModule,
    SecurityModule,
    AuditModule,
    AuthModule,
  ],
  providers: [MigrateCommand, SeedCommand, CreateAdminCommand, VerifyAuditCommand],
})
export class CliModule {}
