import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import passport from 'passport';
import type { Actor } from '../core/security/actor';
import { grants } from '../core/security/permissions';
import { QueueName } from '../core/queue/queue-names';

export const QUEUE_BOARD_PATH = '/admin/queues';

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
function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Actor | null> {
  return new Promise((resolve) => {
    const middleware = passport.authenticate(
      ['jwt', 'api-key'],
      { session: false },
      (error: unknown, user: Actor | false) => resolve(error || !user ? null : user),
    ) as (req: unknown, res: unknown, next: (error?: unknown) => void) => void;
    middleware(request.raw, reply.raw, () => resolve(null));
  });
}

/**
 * Bull Board at /admin/queues for `queues:admin` holders only. Mounted as a Fastify
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
        scope.addHook('onRequest', async (request, reply) => {
          const actor = await authenticate(request, reply);
          if (!actor)
            return problem(
              reply,
              401,
              'Authentication is required: send a valid bearer token or X-API-Key.',
            );
          if (!grants(actor.grants, 'queues:admin'))
            return problem(reply, 403, 'Your role does not grant queues:admin.');
        });
        await scope.register(
          serverAdapter.registerPlugin() as Parameters<FastifyInstance['register']>[0],
        );
      },
      { prefix: QUEUE_BOARD_PATH },
    );
  }
}
