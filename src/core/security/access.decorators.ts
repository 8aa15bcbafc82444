import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Actor } from './actor';
import type { AccessLevel, ResourceKind } from '../access/access-decision';
import type { Permission } from './permissions';

export const PUBLIC_ROUTE = 'verbatim:public';
export const ACCESS_RULE = 'verbatim:access';

export type { AccessLevel };

export interface AccessRule {
  /** Permission(s) the caller's role must grant; all of them. */
  permission?: Permission | Permission[];
  /** At least one of these must be granted (e.g. ingest or write). */
  anyPermission?: Permission[];
  /** The route parameter names a resource the caller must be able to see. */
  resource?: ResourceKind;
  /** Which route parameter holds the resource id; `id` by default. */
  param?: string;
  /** Defaults to `read` for GET/HEAD and `write` otherwise. */
  access?: AccessLevel;
  /**
   * The route mints or changes credentials (API keys, password, e-mail): an API key may
   * not call it (403), so a leaked key cannot outlive its revocation or take the account.
   */
  notByApiKey?: boolean;
}

/** Opts a route out of authentication (login, health, docs). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/**
 * States what a route needs. Every route is authenticated unless `@Public()`;
 * this adds the permission check and, for resource routes, the resource check:
 * `@Authenticated({ permission: 'cases:write', resource: 'case' })`.
 */
export const Authenticated = (rule: AccessRule = {}): MethodDecorator & ClassDecorator =>
  SetMetadata(ACCESS_RULE, rule);

export type AuthenticatedRequest = FastifyRequest & { user?: Actor };

/** The caller resolved by the access guard. */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): Actor => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!request.user) throw new Error('CurrentActor used on a public route');
  return request.user;
});
