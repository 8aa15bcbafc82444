import cors from '@fastify/cors';
import { fastifyRequestContext } from '@fastify/request-context';
import multipart from '@fastify/multipart';
import {
  DynamicModule,
  INestApplication,
  NestApplicationOptions,
  RequestMethod,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { AppConfig } from './core/config/app-config';
import { validateEnvironment } from './core/config/environment';
import { registerBodyWatchdog } from './core/http/body-watchdog';
import { clientIpOf, requestIdFor } from './core/http/request-id';
import { securityHeaders } from './core/http/security-headers';
import { registerAccessLog } from './core/logging/access-log';
import { AppLogger } from './core/logging/app-logger';
import { ValidationProblem } from './core/http/problem.exception';
import { sendFrameworkError } from './core/http/problem.filter';
import { buildOpenApiDocument } from './core/http/openapi';
import { findUnstorableInput } from './core/http/storable-input';
import { createValidationPipe } from './core/http/validation';

export const API_PREFIX = 'api/v1';

/** Operational routes stay at the root for probes and scrapers. */
export function setGlobalPrefix(app: INestApplication): void {
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
      { path: '.well-known/verbatim-signing-key', method: RequestMethod.GET },
    ],
  });
}

const SECURITY_HEADERS = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      // Swagger UI at /docs needs inline bootstrap code and data: images.
      scriptSrc: ["'self'", "'unsafe-inline'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
    },
  },
};

/** How the Nest application is made from the root module; tests may override providers. */
export type AppInstantiator = (
  root: DynamicModule,
  adapter: FastifyAdapter,
  options: NestApplicationOptions,
) => Promise<NestFastifyApplication>;

const instantiate: AppInstantiator = (root, adapter, options) =>
  NestFactory.create<NestFastifyApplication>(root, adapter, options);

/**
 * Builds the HTTP application exactly as production runs it; the e2e tests use the
 * same function so they exercise the real pipeline (filters, guards, validation).
 * `create` only replaces how the container is made (a test binds a TestClock with it).
 */
export async function createApp(
  create: AppInstantiator = instantiate,
): Promise<NestFastifyApplication> {
  const env = validateEnvironment(process.env);
  const adapter = new FastifyAdapter({
    trustProxy: env.TRUST_PROXY,
    bodyLimit: 4 * 1024 * 1024,
    // Slow clients (SPEC section 1, F7): idle sockets, slow headers and keep-alive reuse
    // are bounded here; slow bodies by the watchdog below (Node's requestTimeout stays 0
    // because one deadline cannot fit both a JSON body and a large upload).
    connectionTimeout: env.HTTP_CONNECTION_TIMEOUT_MS,
    keepAliveTimeout: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: 0,
    maxRequestsPerSocket: env.HTTP_MAX_REQUESTS_PER_SOCKET,
    genReqId: requestIdFor,
    requestIdHeader: false,
    frameworkErrors: sendFrameworkError,
  });
  const app = await create(
    AppModule.forRoot({ workers: env.WORKERS_ENABLED }),
    adapter,
    // JSON bodies only (SPEC section 1): Nest's default parsers would also turn
    // application/x-www-form-urlencoded into a DTO. Fastify's own JSON parser stays, with
    // the same __proto__/constructor poisoning protection; other media types get 415.
    { bufferLogs: true, bodyParser: false },
  );
  const logger = app.get(AppLogger);
  app.useLogger(logger);
  app.flushLogs();
  const config = app.get(AppConfig);

  setGlobalPrefix(app);
  app.useGlobalPipes(createValidationPipe());
  app.enableShutdownHooks();

  const fastify = app.getHttpAdapter().getInstance();
  fastify.server.headersTimeout = env.HTTP_HEADERS_TIMEOUT_MS;
  if (env.HTTP_MAX_CONNECTIONS > 0) fastify.server.maxConnections = env.HTTP_MAX_CONNECTIONS;
  registerBodyWatchdog(fastify, {
    bodyTimeoutMs: env.HTTP_BODY_TIMEOUT_MS,
    uploadMinBytesPerSecond: env.UPLOAD_MIN_BYTES_PER_SECOND,
    uploadWindowMs: env.UPLOAD_RATE_WINDOW_MS,
  });
  // JSON is the only body media type (uploads add multipart below): Fastify's built-in
  // text/plain parser would hand a string to the validators, which answered with a
  // misleading 400. Without it, any other media type is a 415 problem.
  fastify.removeContentTypeParser('text/plain');
  // The request's context (id, caller address, agent; the actor once authenticated) for
  // code that runs on its behalf: audit entries and log lines. See RequestContext.
  await app.register(fastifyRequestContext, {
    defaultStoreValues: (request) => {
      const agent = request.headers['user-agent'];
      return {
        requestId: String(request.id),
        ip: clientIpOf(request.raw, env.TRUST_PROXY),
        userAgent: agent ? agent.slice(0, 512) : undefined,
      };
    },
  });
  const headers = securityHeaders(SECURITY_HEADERS);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(headers).header('x-request-id', String(request.id));
    done();
  });
  registerAccessLog(fastify, logger);
  // Input no handler should see (text Postgres cannot store, nesting that would overflow
  // the validators' recursion, keys that slip past the whitelist) is a 400 here, before
  // any route runs: never a 500, never silently dropped. See findUnstorableInput.
  fastify.addHook('preValidation', (request) => {
    const problem = findUnstorableInput(request.body) ?? findUnstorableInput(request.query);
    return problem ? Promise.reject(new ValidationProblem([problem])) : Promise.resolve();
  });
  // Uploads stream to storage (the audio module); these limits stop abuse before that.
  await app.register(multipart, {
    limits: {
      fileSize: env.AUDIO_MAX_BYTES,
      files: 1,
      fields: 5,
      fieldSize: 1024,
      parts: 8,
      headerPairs: 50,
    },
  });
  const origins = config
    .get('CORS_ORIGINS')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (origins.length > 0) {
    await app.register(cors, {
      origin: origins.includes('*') ? true : origins,
      exposedHeaders: ['ETag', 'Location', 'Retry-After', 'X-Request-Id'],
    });
  }
  setUpOpenApi(app);
  return app;
}

function setUpOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}
