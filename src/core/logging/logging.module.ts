import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { AppConfig } from '../config/app-config';

/**
 * Paths whose values never reach a log line. Bodies are not logged at all; these
 * cover headers and any object a developer passes to the logger by mistake.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.passwordHash',
  '*.accessToken',
  '*.refreshToken',
  '*.token',
  '*.apiKey',
  '*.key',
  '*.secret',
];

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const file = config.get('LOG_FILE');
        return {
          pinoHttp: {
            level: config.get('LOG_LEVEL'),
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            // pino-http reuses req.id, which requestIdFor() set from X-Request-Id.
            customProps: () => ({ service: 'verbatim' }),
            serializers: {
              req: (req: { id: string; method: string; url: string }) => ({
                id: req.id,
                method: req.method,
                // Query strings may carry search text; the path is enough to trace a call.
                url: req.url.split('?')[0],
              }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
            stream: file ? pino.destination({ dest: file, sync: true, mkdir: true }) : undefined,
            autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
          },
        };
      },
    }),
  ],
})
export class LoggingModule {}
