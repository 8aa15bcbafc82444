import { Body, Controller, Get, HttpCode, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { etagOf, IfMatchVersion } from '../core/http/etag';
import { Authenticated, CurrentActor, Public } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { AuthService } from './auth.service';
import {
  ChangePasswordDto,
  LoginDto,
  MeResponse,
  RefreshTokenDto,
  TokenResponse,
} from './dto/auth.dto';
import { UpdateMeDto, UserResponse } from './dto/user.dto';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @Public()
  @HttpCode(200)
  @ApiOkResponse({ type: TokenResponse })
  @ApiOperation({ summary: 'Log in with login and password' })
  login(@Body() dto: LoginDto): Promise<TokenResponse> {
    return this.auth.login(dto);
  }

  @Post('refresh')
  @Public()
  @HttpCode(200)
  @ApiOkResponse({ type: TokenResponse })
  @ApiOperation({ summary: 'Exchange a refresh token for new tokens' })
  refresh(@Body() dto: RefreshTokenDto): Promise<TokenResponse> {
    return this.auth.refresh(dto.refreshToken);
  }

  @Post('logout')
  @Authenticated()
  @ApiBearerAuth()
  @HttpCode(204)
  @ApiOperation({ summary: 'Log out (revoke a refresh token)' })
  logout(@CurrentActor() actor: Actor, @Body() dto: RefreshTokenDto): Promise<void> {
    return this.auth.logout(actor, dto.refreshToken);
  }

  @Get('me')
  @Authenticated()
  @ApiBearerAuth()
  @ApiOkResponse({ type: MeResponse })
  @ApiOperation({ summary: 'Get the current user' })
  me(@CurrentActor() actor: Actor): Promise<MeResponse> {
    return this.auth.me(actor);
  }

  @Patch('me')
  @Authenticated({ notByApiKey: true })
  @ApiBearerAuth()
  @ApiOkResponse({ type: UserResponse })
  @ApiOperation({ summary: "Update the current user's profile" })
  async updateMe(
    @CurrentActor() actor: Actor,
    @Body() dto: UpdateMeDto,
    @IfMatchVersion() version: number | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UserResponse> {
    const user = await this.auth.updateMe(actor, dto, version);
    void reply.header('etag', etagOf(user.version));
    return UserResponse.from(user);
  }

  @Post('password')
  @Authenticated({ notByApiKey: true })
  @ApiBearerAuth()
  @HttpCode(200)
  @ApiOkResponse({
    type: TokenResponse,
    description: 'Every earlier session is revoked; continue with these tokens.',
  })
  @ApiOperation({ summary: "Change the current user's password" })
  changePassword(
    @CurrentActor() actor: Actor,
    @Body() dto: ChangePasswordDto,
  ): Promise<TokenResponse> {
    return this.auth.changePassword(actor, dto);
  }
}
