import { Global, Module } from '@nestjs/common';
import { CacheInvalidation } from './cache-invalidation';

@Global()
@Module({ providers: [CacheInvalidation], exports: [CacheInvalidation] })
export class CacheModule {}
