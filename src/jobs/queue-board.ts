import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bullmq';
import { HttpException, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import passport from 'passport';
import { AuthService } from '../auth/auth.service';
import { LoginDto } from '../auth/dto/auth.dto';
import type { Actor } from '../core/security/actor';
import { grants } from '../core/security/permissions';
import { QueueName } from '../core/queue/queue-names';

export const QUEUE_BOARD_PATH = '/admin/queues';
export const QUEUE_BOARD_SIGN_IN = `${QUEUE_BOARD_PATH}/sign-in`;
/** Holds an access token for the board only (its Path), never readable by scripts. */
export const QUEUE_BOARD_COOKIE = 'verbatim_queues';
const BOARD_PERMISSION = 'queues:admin';

function problem(reply: FastifyReply, status: 401 | 403, detail: string): FastifyReply {
  return reply
    .status(status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .header(
      status === 401 ? 'www-authenticate' : 'x-content-type-options',
      status === 401 ? 'Bearer' : 'nosniff',
    )
    .send(
      JSON.stringify({
        type: `https://verbatim.dev/problems/${status === 401 ? 'unauthenticated' : 'missing-permission'}`,
        title: status === 401 ? 'Unauthorized' : 'Forbidden',
        status,
        detail,
        instance: QUEUE_BOARD_PATH,
        requestId: String(reply.request.id),
      }),
    );
}

/** The same credentials the API accepts (bearer token or X-API-Key), through the same strategies. */
function authenticate(
  raw: { headers: Record<string, unknown> },
  res: unknown,
): Promise<Actor | null> {
  return new Promise((resolve) => {
    const middleware = passport.authenticate(
      ['jwt', 'api-key'],
      { session: false },
      (error: unknown, user: Actor | false) => resolve(error || !user ? null : user),
    ) as (req: unknown, res: unknown, next: (error?: unknown) => void) => void;
    middleware(raw, res, () => resolve(null));
  });
}

function cookieToken(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === QUEUE_BOARD_COOKIE) return value.join('=') || undefined;
  }
  return undefined;
}

/**
 * The board's caller: a bearer token or X-API-Key as on the API, else the board cookie's
 * access token, checked by the same JWT strategy (expiry, revocation, deactivation).
 */
function boardActor(request: FastifyRequest, reply: FastifyReply): Promise<Actor | null> {
  const token = cookieToken(request);
  const hasHeader = request.headers.authorization || request.headers['x-api-key'];
  if (hasHeader || !token) return authenticate(request.raw, reply.raw);
  return authenticate({ headers: { authorization: `Bearer ${token}` } }, reply.raw);
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInPage(reply: FastifyReply, status: number, message?: string): FastifyReply {
  const notice = message ? `<p role="alert" class="error">${escapeHtml(message)}</p>` : '';
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Verbatim queues</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}</style></head>
<body><h1>Verbatim queues</h1>${notice}
<form method="post" action="${QUEUE_BOARD_SIGN_IN}">
<label for="login">Username or e-mail</label><input id="login" name="login" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>
`);
}

/** Pages a browser navigates to go to the sign-in page; the board's API calls get problems. */
function wantsPage(request: FastifyRequest): boolean {
  return request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}

/**
 * Bull Board at /admin/queues for `queues:admin` holders only. Browsers sign in at
 * /admin/queues/sign-in (a cookie); programs send a bearer token or X-API-Key. Mounted as a Fastify
 * plugin in its own encapsulated scope whose onRequest hook authenticates every request
 * (pages, assets and the board's API alike) before bull-board sees it: deny by default.
 * (@bull-board/nestjs is not used: it can only guard Fastify routes through Nest
 * middleware, outside this scope.)
 */
@Injectable()
export class QueueBoard implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly moduleRef: ModuleRef,
  ) {}

  /**
   * A password login through AuthService.login (lockout, failure limits and audit as on
   * POST /auth/login); the access token goes into an HttpOnly, SameSite=Strict cookie
   * scoped to the board and living as long as the token. The refresh token is dropped:
   * when the access token expires, the user signs in again.
   */
  private async signIn(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const form = plainToInstance(LoginDto, request.body ?? {});
    if (validateSync(form).length > 0) {
      return signInPage(reply, 400, 'Enter your username or e-mail and your password.');
    }
    let token: { accessToken: string; expiresIn: number };
    try {
      token = await this.moduleRef
        .get(AuthService, { strict: false })
        .login({ login: form.login, password: form.password });
    } catch (error) {
      if (!(error instanceof HttpException)) throw error;
      const status = error.getStatus();
      return signInPage(
        reply,
        status,
        status === 429
          ? 'Too many failed sign-ins: this account is locked for a while.'
          : 'Wrong username or password.',
      );
    }
    const actor = await authenticate(
      { headers: { authorization: `Bearer ${token.accessToken}` } },
      reply.raw,
    );
    if (!actor || !grants(actor.grants, BOARD_PERMISSION)) {
      return signInPage(reply, 403, `Your role does not grant ${BOARD_PERMISSION}.`);
    }
    const secure = request.protocol === 'https' ? '; Secure' : '';
    return reply
      .status(303)
      .header(
        'set-cookie',
        `${QUEUE_BOARD_COOKIE}=${token.accessToken}; Path=${QUEUE_BOARD_PATH}; Max-Age=${token.expiresIn}; HttpOnly; SameSite=Strict${secure}`,
      )
      .header('cache-control', 'no-store')
      .header('location', QUEUE_BOARD_PATH)
      .send();
  }

  onModuleInit(): void {
    const httpAdapter = this.adapterHost.httpAdapter as
      { getInstance(): FastifyInstance } | undefined;
    if (!httpAdapter) return; // no HTTP server (worker process)
    const queues = Object.values(QueueName).map(
      (name) =>
        new BullMQAdapter(this.moduleRef.get<Queue>(getQueueToken(name), { strict: false })),
    );
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(QUEUE_BOARD_PATH);
    createBullBoard({
      queues,
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Verbatim queues' } },
    });
    const fastify = httpAdapter.getInstance();
    void fastify.register(
      async (scope) => {
        // The sign-in form posts urlencoded fields; this parser exists in this scope only.
        scope.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: 4096 },
          (_request, body, done) =>
            done(null, Object.fromEntries(new URLSearchParams(String(body)))),
        );
        scope.get('/sign-in', (_request, reply) => signInPage(reply, 200));
        scope.post('/sign-in', (request, reply) => this.signIn(request, reply));
        scope.addHook('onRequest', async (request, reply) => {
          if (request.routeOptions.url === QUEUE_BOARD_SIGN_IN) return;
          const actor = await boardActor(request, reply);
          if (!actor) {
            if (wantsPage(request)) return reply.redirect(QUEUE_BOARD_SIGN_IN, 303);
            return problem(
              reply,
              401,
              'Authentication is required: sign in at /admin/queues/sign-in, or send a bearer token or X-API-Key.',
            );
          }
          if (!grants(actor.grants, BOARD_PERMISSION))
            return problem(reply, 403, `Your role does not grant ${BOARD_PERMISSION}.`);
        });
        await scope.register(
          serverAdapter.registerPlugin() as Parameters<FastifyInstance['register']>[0],
        );
      },
      { prefix: QUEUE_BOARD_PATH },
    );
  }
}
