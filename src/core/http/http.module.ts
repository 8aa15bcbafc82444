import { Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ProblemFilter } from './problem.filter';
import { RequestContext } from './request-context';

@Global()
@Module({
  providers: [RequestContext, { provide: APP_FILTER, useClass: ProblemFilter }],
  exports: [RequestContext],
})
export class HttpModule {}
