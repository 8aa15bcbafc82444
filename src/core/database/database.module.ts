import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClockModule } from '../clock/clock.module';
import { AppConfig } from '../config/app-config';
import { databaseOptions } from './database-options';
import { ReplicaReads, replicaUrlsOf } from './replica-reads';

@Global()
@Module({
  imports: [
    // ReplicaReads times its back-off off the injected clock.
    ClockModule,
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...databaseOptions({
          url: config.get('DATABASE_URL'),
          poolSize: config.get('DATABASE_POOL_SIZE'),
          replicaUrls: replicaUrlsOf(config.get('DATABASE_REPLICA_URLS')),
        }),
        // Fail fast at boot instead of retrying for a minute; readiness reports outages later.
        retryAttempts: 2,
        retryDelay: 500,
      }),
    }),
  ],
  providers: [ReplicaReads],
  exports: [ReplicaReads],
})
export class DatabaseModule {}
