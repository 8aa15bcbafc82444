import { Module } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module';
import { DefaultPageSizePipe } from './default-page-size.pipe';
import { SettingsController, UserSettingsController } from './settings.controller';
import { SettingsRepository } from './settings.repository';
import { SettingsService } from './settings.service';

/** Per-user settings, and the `pageSize` default applied to every list. */
@Module({
  imports: [AuthModule],
  controllers: [SettingsController, UserSettingsController],
  providers: [
    SettingsRepository,
    SettingsService,
    // Global, and before app.factory.ts's validation pipe: APP_PIPE providers come first.
    { provide: APP_PIPE, useClass: DefaultPageSizePipe },
  ],
  exports: [SettingsService],
})
export class SettingsModule {}
