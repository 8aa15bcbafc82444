import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { randomInt } from 'node:crypto';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { AppInstantiator, createApp } from '../../src/app.factory';
import { Clock, TestClock } from '../../src/core/clock/clock';
import { ADMIN } from './test-run';

export interface TestApp {
  app: NestFastifyApplication;
  /** Real HTTP against the listening server. */
  http: TestAgent;
  db: DataSource;
  close(): Promise<void>;
}

export interface StartOptions {
  /**
   * Binds this clock as the application's `Clock`: a test that waits for something to
   * expire (tokens, API keys, claims) advances it instead of sleeping.
   */
  clock?: TestClock;
}

/** Makes the container through Nest's testing module, with `Clock` bound to `clock`. */
function withClock(clock: Clock): AppInstantiator {
  return async (root, adapter, options) => {
    const moduleRef = await Test.createTestingModule({ imports: [root] })
      .overrideProvider(Clock)
      .useValue(clock)
      .compile();
    return moduleRef.createNestApplication<NestFastifyApplication>(adapter, options);
  };
}

/**
 * Boots the application exactly as production does, listening on an ephemeral
 * loopback port. `env` overrides apply to this app only and are restored on close.
 */
export async function startApp(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestApp> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const app = await createApp(options.clock ? withClock(options.clock) : undefined);
  await app.listen(0, '127.0.0.1');
  return {
    app,
    http: request(app.getHttpServer()),
    db: app.get(DataSource),
    async close() {
      await app.close();
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    },
  };
}

/** A random client address, so login-failure counters of one test never lock out another. */
export function randomIp(): string {
  return `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  userId: string;
  auth: { Authorization: string };
}

export async function login(
  http: TestAgent,
  loginName: string,
  password: string,
): Promise<Session> {
  const response = await http
    .post('/api/v1/auth/login')
    .set('X-Forwarded-For', randomIp())
    .send({ login: loginName, password })
    .expect(200);
  const body = response.body as { accessToken: string; refreshToken: string; user: { id: string } };
  return {
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
    userId: body.user.id,
    auth: { Authorization: `Bearer ${body.accessToken}` },
  };
}

export function loginAsAdmin(http: TestAgent): Promise<Session> {
  return login(http, ADMIN.username, ADMIN.password);
}

let counter = 0;

export interface CreatedUser {
  id: string;
  username: string;
  email: string;
  password: string;
}

/** Creates a user with a unique name through the admin API. */
export async function createUser(
  http: TestAgent,
  admin: Session,
  role: string,
): Promise<CreatedUser> {
  counter += 1;
  const username = `u${Date.now().toString(36)}${process.pid}${counter}`;
  const user = {
    username,
    email: `${username}@example.test`,
    fullName: `User ${username}`,
    password: `password-${username}`,
    role,
  };
  const response = await http.post('/api/v1/users').set(admin.auth).send(user).expect(201);
  return {
    id: (response.body as { id: string }).id,
    username,
    email: user.email,
    password: user.password,
  };
}

/** A user of `role`, logged in. */
export async function userSession(
  http: TestAgent,
  admin: Session,
  role: string,
): Promise<Session & { user: CreatedUser }> {
  const user = await createUser(http, admin, role);
  return { ...(await login(http, user.username, user.password)), user };
}

// ---------------------------------------------------------------------------
// Helpers for the identity, roles, API key and secrets specs.

/** What the helpers below need of a supertest response. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  text: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  errors?: { field: string; message: string }[];
}

/** Asserts an RFC 9457 problem document with `status` and returns it. */
export function expectProblem(response: HttpResponse, status: number): ProblemBody {
  if (response.status !== status) {
    throw new Error(`expected a ${status} problem, got ${response.status}: ${response.text}`);
  }
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.body as ProblemBody;
  expect(body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
    instance: expect.any(String),
  });
  return body;
}

/** One login attempt from `ip`, whatever its outcome. */
export function attemptLogin(
  http: TestAgent,
  loginName: string,
  password: string,
  ip: string = randomIp(),
): Promise<HttpResponse> {
  return http
    .post('/api/v1/auth/login')
    .set('X-Forwarded-For', ip)
    .send({ login: loginName, password });
}

let nameCounter = 0;

/** A fresh lower_snake_case name (roles), unique within and across runs. */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}_${Date.now().toString(36)}_${process.pid}_${nameCounter}`;
}

export interface CreatedApiKey {
  id: string;
  key: string;
  header: { 'X-API-Key': string };
}

/** Creates an API key for the caller of `session`. */
export async function createApiKey(
  http: TestAgent,
  session: Session,
  body: { name?: string; expiresAt?: string } = {},
): Promise<CreatedApiKey> {
  const response = await http
    .post('/api/v1/api-keys')
    .set(session.auth)
    .send({ name: body.name ?? uniqueName('key'), ...body })
    .expect(201);
  const created = response.body as { id: string; key: string };
  return { id: created.id, key: created.key, header: { 'X-API-Key': created.key } };
}

/** A fresh role through the admin API. */
export async function createRole(
  http: TestAgent,
  admin: Session,
  permissions: string[],
  parentRole?: string,
): Promise<{ id: string; name: string }> {
  const name = uniqueName('role');
  const response = await http
    .post('/api/v1/roles')
    .set(admin.auth)
    .send({ name, permissions, ...(parentRole ? { parentRole } : {}) })
    .expect(201);
  return { id: (response.body as { id: string }).id, name };
}
