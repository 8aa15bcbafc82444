import { Module } from '@nestjs/common';
import { AuditModule } from './audit/audit.module';
import { ConfigModule } from './core/config/config.module';
import { DatabaseModule } from './core/database/database.module';
import { HttpModule } from './core/http/http.module';
import { LoggingModule } from './core/logging/logging.module';
import { RedisModule } from './core/redis/redis.module';

/**
 * The worker process: everything queue processors need and no HTTP server.
 * Feature modules with processors add themselves here and to AppModule.
 */
@Module({
  imports: [ConfigModule, LoggingModule, HttpModule, DatabaseModule, RedisModule, AuditModule],
})
export class WorkerModule {}
