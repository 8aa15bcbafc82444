import { Body, Controller, Get, Patch, Post, Query, Res } from '@nestjs/common';
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
import { ForbiddenProblem } from '../core/http/problem.exception';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { grants } from '../core/security/permissions';
import { CreateUserDto, UpdateUserDto, UserResponse } from './dto/user.dto';
import { UsersService } from './users.service';

@ApiTags('users')
@ApiBearerAuth()
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @Authenticated({ permission: 'users:manage' })
  @ApiOperation({ summary: 'List users' })
  async list(@Query() query: PageQuery): Promise<Page<UserResponse>> {
    const [users, total] = await this.users.list(query.offset, query.limit);
    return pageOf(users.map(UserResponse.from), total, query);
  }

  @Post()
  @Authenticated({ permission: 'users:manage' })
  @ApiCreatedResponse({ type: UserResponse })
  @ApiOperation({ summary: 'Create a user' })
  async create(
    @CurrentActor() actor: Actor,
    @Body() dto: CreateUserDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UserResponse> {
    const user = await this.users.create(actor, dto);
    void reply.header('location', `/api/v1/users/${user.id}`).header('etag', etagOf(user.version));
    return UserResponse.from(user);
  }

  /** Administrators read anyone; everybody reads themselves. */
  @Get(':id')
  @Authenticated()
  @ApiOkResponse({ type: UserResponse })
  @ApiOperation({ summary: 'Get a user' })
  async get(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UserResponse> {
    if (id !== actor.userId && !grants(actor.grants, 'users:manage')) {
      throw new ForbiddenProblem('Your role does not grant users:manage.');
    }
    const user = await this.users.get(id);
    void reply.header('etag', etagOf(user.version));
    return UserResponse.from(user);
  }

  @Patch(':id')
  @Authenticated({ permission: 'users:manage' })
  @ApiOkResponse({ type: UserResponse })
  @ApiOperation({ summary: 'Update a user' })
  async update(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: UpdateUserDto,
    @IfMatchVersion() version: number | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UserResponse> {
    const user = await this.users.update(actor, id, dto, version);
    void reply.header('etag', etagOf(user.version));
    return UserResponse.from(user);
  }
}
