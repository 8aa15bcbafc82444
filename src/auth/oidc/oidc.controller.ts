import { Controller, Get, Req, Res } from '@nestjs/common';
import {
  ApiFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../../core/config/app-config';
import { ApiProblems } from '../../core/http/openapi';
import { Public } from '../../core/security/access.decorators';
import { TokenResponse } from '../dto/auth.dto';
import { OidcService } from './oidc.service';

export class OidcLoginResponse {
  @ApiProperty({ description: 'Where to send the browser: the provider’s authorization endpoint' })
  authorizationUrl!: string;
}

/** Holds the state of the sign-in this browser started, until its callback. */
const FLOW_COOKIE = 'verbatim_oidc';

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) {
      return part.slice(separator + 1).trim();
    }
  }
  return undefined;
}

/**
 * Single sign-on through the configured OpenID provider (SPEC section 13): the browser is
 * sent to the provider and comes back to the callback, which answers like `/auth/login`.
 */
@ApiTags('auth')
@Controller('auth/oidc')
export class OidcController {
  constructor(
    private readonly oidc: OidcService,
    private readonly config: AppConfig,
  ) {}

  /** The cookie goes only to the callback's path, over https when the callback is https. */
  private cookie(value: string, maxAge: number): string {
    const redirect = new URL(this.config.get('OIDC_REDIRECT_URI')!);
    const secure = redirect.protocol === 'https:' ? '; Secure' : '';
    return `${FLOW_COOKIE}=${value}; Path=${redirect.pathname}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
  }

  @Get('login')
  @Public()
  @ApiOperation({
    summary: 'Start single sign-on: redirects to the identity provider',
    description:
      'A browser navigating here is redirected (302). A script asking for JSON only ' +
      '(`Accept: application/json`) gets the same URL as `{ authorizationUrl }` and must ' +
      'send the browser there itself; either way the flow cookie is set.',
  })
  @ApiFoundResponse({ description: 'Location: the provider’s authorization endpoint' })
  @ApiOkResponse({ type: OidcLoginResponse })
  @ApiProblems(404, 503)
  async login(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    this.oidc.assertEnabled();
    const { url, state } = await this.oidc.start();
    void reply
      .header('set-cookie', this.cookie(state, this.config.get('OIDC_STATE_TTL_SECONDS')))
      .header('cache-control', 'no-store');
    const accept = request.headers.accept ?? '';
    if (accept.includes('application/json') && !accept.includes('text/html')) {
      await reply.send({ authorizationUrl: url } satisfies OidcLoginResponse);
      return;
    }
    await reply.redirect(url, 302);
  }

  @Get('callback')
  @Public()
  @ApiOperation({
    summary: 'Single sign-on callback: validates the provider’s answer and issues tokens',
  })
  @ApiOkResponse({ type: TokenResponse })
  @ApiProblems(401, 403, 404, 409, 503)
  async callback(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponse> {
    this.oidc.assertEnabled();
    const query = request.query as Record<string, unknown>;
    const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    // Cleared whatever the outcome: a state answers once.
    void reply.header('set-cookie', this.cookie('', 0)).header('cache-control', 'no-store');
    return this.oidc.callback(
      typeof query.state === 'string' ? query.state : undefined,
      rawQuery,
      cookieValue(request.headers.cookie, FLOW_COOKIE),
    );
  }
}
