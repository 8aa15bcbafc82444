import { Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ClsModule } from 'nestjs-cls';
import type { IncomingMessage } from 'node:http';
import { AppConfig } from '../config/app-config';
import { ProblemFilter } from './problem.filter';
import { RequestContext, VerbatimClsStore } from './request-context';
import { clientIpOf, requestIdFor } from './request-id';

@Global()
@Module({
  imports: [
    ClsModule.forRootAsync({
      global: true,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        middleware: {
          mount: true,
          generateId: true,
          idGenerator: (req: IncomingMessage & { id?: string }) => req.id ?? requestIdFor(req),
          setup: (cls, req: IncomingMessage) => {
            const store = cls as unknown as {
              set<K extends keyof VerbatimClsStore>(k: K, v: VerbatimClsStore[K]): void;
            };
            store.set('ip', clientIpOf(req, config.get('TRUST_PROXY')));
            const agent = req.headers['user-agent'];
            store.set('userAgent', agent ? agent.slice(0, 512) : undefined);
          },
        },
      }),
    }),
  ],
  providers: [RequestContext, { provide: APP_FILTER, useClass: ProblemFilter }],
  exports: [RequestContext],
})
export class HttpModule {}
