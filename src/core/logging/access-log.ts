import type { FastifyInstance } from 'fastify';
import type { AppLogger } from './app-logger';

/**
 * One line per answered request: id, method, path (query strings may carry search
 * text), status and time. Health probes are left out. Headers and bodies never are logged.
 */
export function registerAccessLog(fastify: FastifyInstance, logger: AppLogger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const url = request.url;
    if (!url.startsWith('/health') && logger.access.isLevelEnabled('info')) {
      const query = url.indexOf('?');
      logger.access.info(
        {
          req: {
            id: request.id,
            method: request.method,
            url: query < 0 ? url : url.slice(0, query),
          },
          res: { statusCode: reply.statusCode },
          responseTime: Math.round(reply.elapsedTime),
        },
        'request completed',
      );
    }
    done();
  });
}
