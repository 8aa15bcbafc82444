import { applyDecorators, type INestApplication } from '@nestjs/common';
import type { NestContainer } from '@nestjs/core';
import { ApiResponse, DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type {
  OperationObject,
  PathItemObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { ACCESS_RULE, type AccessRule, PUBLIC_ROUTE } from '../security/access.decorators';

/** RFC 9457 problem document, as ProblemFilter writes it. */
const PROBLEM_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'instance', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri', description: 'Stable problem type' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    instance: { type: 'string', description: 'Path of the request' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      description: 'Field-level validation failures (400)',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
};

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; `errors` names the fields',
  401: 'Missing, invalid or expired credentials',
  403: 'The caller may not do this',
  404: 'Not found, or not visible to the caller',
  409: 'Conflicts with the current state',
  412: 'If-Match does not match the current version',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests; see Retry-After',
};

function problemResponse(status: number): ResponseObject & { description: string } {
  return {
    description: PROBLEM_DESCRIPTIONS[status] ?? 'Client error',
    content: {
      'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
    },
  };
}

/**
 * Documents problem responses particular to a route (409, 412, 413…). The ones every
 * route shares (400, 401, 403, 404, 429) are derived from its access rule and parameters
 * by `buildOpenApiDocument`, so they cannot drift from what the access guard does.
 */
export const ApiProblems = (...statuses: number[]): MethodDecorator & ClassDecorator =>
  applyDecorators(...statuses.map((status) => ApiResponse({ status, ...problemResponse(status) })));

interface RouteAccess {
  public: boolean;
  rule: AccessRule;
}

/**
 * The access metadata of every controller method, by the default operationId
 * (`Controller_method`), read the way AccessGuard reads it (method over class).
 */
function routeAccess(app: INestApplication): Map<string, RouteAccess> {
  // Nest keeps the container protected; @nestjs/swagger's scanner reads it the same way.
  const { container } = app as unknown as { container: NestContainer };
  const routes = new Map<string, RouteAccess>();
  for (const module of container.getModules().values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const read = <T>(key: string): T | undefined =>
          (Reflect.getMetadata(key, handler) as T | undefined) ??
          (Reflect.getMetadata(key, controller) as T | undefined);
        routes.set(`${controller.name}_${name}`, {
          public: read<boolean>(PUBLIC_ROUTE) === true,
          rule: read<AccessRule>(ACCESS_RULE) ?? {},
        });
      }
    }
  }
  return routes;
}

/** The problem statuses a route can answer, from its access rule and its inputs. */
function sharedProblems(operation: OperationObject, access: RouteAccess | undefined): number[] {
  const statuses: number[] = [];
  const hasInput = (operation.parameters?.length ?? 0) > 0 || operation.requestBody !== undefined;
  if (hasInput) statuses.push(400);
  if (!access?.public) statuses.push(401);
  const rule = access?.rule ?? {};
  if (rule.permission !== undefined || rule.anyPermission || rule.resource) statuses.push(403);
  const inPath = operation.parameters?.some((p) => 'in' in p && p.in === 'path') ?? false;
  if (rule.resource || inPath) statuses.push(404);
  statuses.push(429);
  return statuses;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * The OpenAPI document of the API, served at /docs-json and linted in CI with Redocly's
 * recommended rules (`npm run openapi:lint`). Security and the shared problem responses
 * come from the same metadata AccessGuard enforces: public routes declare `security: []`,
 * every other route accepts a bearer token or an API key.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Verbatim API')
      .setDescription(
        'Speech-to-information case system. Errors are RFC 9457 application/problem+json.',
      )
      .setVersion('1')
      .setLicense('Proprietary', 'https://verbatim.dev/license')
      .addServer('/', 'This server')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
      .addSecurityRequirements('bearer')
      .addSecurityRequirements('api-key')
      .build(),
  );
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA },
  };
  const routes = routeAccess(app);
  for (const pathItem of Object.values<PathItemObject>(document.paths)) {
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (!operation) continue;
      const access = operation.operationId ? routes.get(operation.operationId) : undefined;
      if (access?.public) operation.security = [];
      else delete operation.security; // the document's: bearer token or API key
      for (const status of sharedProblems(operation, access)) {
        operation.responses[status] ??= problemResponse(status);
      }
    }
  }
  return document;
}
