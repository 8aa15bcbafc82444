import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { AuthModule } from '../auth/auth.module';
import { DefaultPageSizeInterceptor } from './default-page-size.interceptor';
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
    { provide: APP_INTERCEPTOR, useClass: DefaultPageSizeInterceptor },
  ],
  exports: [SettingsService],
})
export class SettingsModule {}
