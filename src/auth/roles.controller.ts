import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { etagOf, IfMatchVersion } from '../core/http/etag';
import { Page, PageQuery, pageOf } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { PERMISSION_CATALOGUE, PERMISSIONS } from '../core/security/permissions';
import { CreateRoleDto, PermissionResponse, RoleResponse, UpdateRoleDto } from './dto/role.dto';
import { RolesService } from './roles.service';

@ApiTags('roles')
@ApiBearerAuth()
@Controller()
export class RolesController {
  constructor(private readonly roles: RolesService) {}

  @Get('permissions')
  @Authenticated()
  @ApiOkResponse({ type: [PermissionResponse] })
  @ApiOperation({ summary: 'List all permissions' })
  permissions(): { data: PermissionResponse[] } {
    return { data: PERMISSIONS.map((name) => ({ name, description: PERMISSION_CATALOGUE[name] })) };
  }

  @Get('roles')
  @Authenticated({ permission: 'roles:manage' })
  @ApiOperation({ summary: 'List roles' })
  async list(@Query() query: PageQuery): Promise<Page<RoleResponse>> {
    const [roles, total] = await this.roles.list(query.offset, query.limit);
    return pageOf(roles.map(RoleResponse.from), total, query);
  }

  @Post('roles')
  @Authenticated({ permission: 'roles:manage' })
  @ApiCreatedResponse({ type: RoleResponse })
  @ApiOperation({ summary: 'Create a role' })
  async create(
    @CurrentActor() actor: Actor,
    @Body() dto: CreateRoleDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RoleResponse> {
    const role = await this.roles.create(actor, dto);
    void reply.header('location', `/api/v1/roles/${role.id}`).header('etag', etagOf(role.version));
    return RoleResponse.from(role);
  }

  @Get('roles/:id')
  @Authenticated({ permission: 'roles:manage' })
  @ApiOkResponse({ type: RoleResponse })
  @ApiOperation({ summary: 'Get a role' })
  async get(
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RoleResponse> {
    const role = await this.roles.get(id);
    void reply.header('etag', etagOf(role.version));
    return RoleResponse.from(role);
  }

  @Patch('roles/:id')
  @Authenticated({ permission: 'roles:manage' })
  @ApiOkResponse({ type: RoleResponse })
  @ApiOperation({ summary: 'Update a role' })
  async update(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: UpdateRoleDto,
    @IfMatchVersion() version: number | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RoleResponse> {
    const role = await this.roles.update(actor, id, dto, version);
    void reply.header('etag', etagOf(role.version));
    return RoleResponse.from(role);
  }

  @Delete('roles/:id')
  @Authenticated({ permission: 'roles:manage' })
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a role' })
  delete(@UuidParam() id: string): Promise<void> {
    return this.roles.delete(id);
  }
}
