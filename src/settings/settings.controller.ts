import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { PutSettingDto, SettingResponse } from './dto/setting.dto';
import { SettingsMap, SettingsService } from './settings.service';

const SETTINGS_MAP = {
  schema: { type: 'object', additionalProperties: true, example: { pageSize: 50 } },
};

/** The caller's own settings: the user is always the actor, never a parameter. */
@ApiTags('settings')
@ApiBearerAuth()
@Controller('me/settings')
export class SettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get()
  @Authenticated()
  @ApiOkResponse(SETTINGS_MAP)
  @ApiOperation({ summary: 'Get all my settings as { key: value }' })
  list(@CurrentActor() actor: Actor): Promise<SettingsMap> {
    return this.settings.list(actor.userId);
  }

  @Get(':key')
  @Authenticated()
  @ApiOkResponse({ type: SettingResponse })
  @ApiOperation({ summary: 'Get one of my settings (404 when not set)' })
  async get(@CurrentActor() actor: Actor, @Param('key') key: string): Promise<SettingResponse> {
    return { key, value: await this.settings.get(actor, key) };
  }

  @Put(':key')
  @Authenticated()
  @ApiOkResponse({ type: SettingResponse })
  @ApiOperation({ summary: 'Set one of my settings' })
  async put(
    @CurrentActor() actor: Actor,
    @Param('key') key: string,
    @Body() dto: PutSettingDto,
  ): Promise<SettingResponse> {
    return { key, value: await this.settings.put(actor, key, dto.value) };
  }

  @Delete(':key')
  @Authenticated()
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiOperation({ summary: 'Remove one of my settings (back to the default)' })
  delete(@CurrentActor() actor: Actor, @Param('key') key: string): Promise<void> {
    return this.settings.delete(actor, key);
  }
}

@ApiTags('settings')
@ApiBearerAuth()
@Controller('users')
export class UserSettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get(':id/settings')
  @Authenticated({ permission: 'users:manage' })
  @ApiOkResponse(SETTINGS_MAP)
  @ApiOperation({ summary: "Read a user's settings (administrators)" })
  list(@UuidParam() id: string): Promise<SettingsMap> {
    return this.settings.listOfUser(id);
  }
}
