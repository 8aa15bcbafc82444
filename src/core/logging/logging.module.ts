import { Global, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AppLogger, logFormat } from './app-logger';

/** Flushes buffered log lines when the process shuts down. */
class LogFlusher implements OnApplicationShutdown {
  constructor(private readonly logger: AppLogger) {}

  onApplicationShutdown(): Promise<void> {
    return this.logger.close();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: AppLogger,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const file = config.get('LOG_FILE');
        const format = logFormat({
          nodeEnv: config.get('NODE_ENV'),
          stdoutIsTTY: process.stdout.isTTY === true,
          file,
        });
        return new AppLogger({ level: config.get('LOG_LEVEL'), file, pretty: format === 'pretty' });
      },
    },
    { provide: LogFlusher, inject: [AppLogger], useFactory: (l: AppLogger) => new LogFlusher(l) },
  ],
  exports: [AppLogger],
})
export class LoggingModule {}
