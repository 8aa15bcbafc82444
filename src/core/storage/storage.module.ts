import { Global, Inject, Module, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { LocalStorageDriver } from './local-storage.driver';
import { S3StorageDriver } from './s3-storage.driver';
import { STORAGE, StorageDriver } from './storage-driver';

/** The configured storage driver: `@InjectStorage() storage: StorageDriver`. */
export const InjectStorage = (): ParameterDecorator => Inject(STORAGE);

export function createStorageDriver(config: AppConfig): StorageDriver {
  if (config.get('STORAGE_DRIVER') === 's3') {
    return new S3StorageDriver({
      bucket: config.get('S3_BUCKET')!,
      region: config.get('S3_REGION'),
      endpoint: config.get('S3_ENDPOINT'),
      accessKeyId: config.get('S3_ACCESS_KEY_ID'),
      secretAccessKey: config.get('S3_SECRET_ACCESS_KEY'),
      forcePathStyle: config.get('S3_FORCE_PATH_STYLE'),
      connectTimeoutMs: config.get('S3_CONNECT_TIMEOUT_MS'),
      socketTimeoutMs: config.get('S3_SOCKET_TIMEOUT_MS'),
    });
  }
  return new LocalStorageDriver(config.get('STORAGE_LOCAL_ROOT'));
}

@Global()
@Module({
  providers: [{ provide: STORAGE, inject: [AppConfig], useFactory: createStorageDriver }],
  exports: [STORAGE],
})
export class StorageModule implements OnModuleDestroy {
  constructor(@Inject(STORAGE) private readonly storage: StorageDriver) {}

  /** Closes the S3 client's pooled sockets with the app. */
  onModuleDestroy(): void {
    if (this.storage instanceof S3StorageDriver) this.storage.destroy();
  }
}
