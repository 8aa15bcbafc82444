import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * Writes the OpenAPI document (to the file given, else stdout) without a running server:
 * `npm run openapi:lint` writes dist/openapi.json with it and lints that. Nest's preview mode builds the module graph without instantiating providers, so nothing
 * connects to PostgreSQL or Redis; the routes and their decorators are all the
 * document needs. The configuration is still validated when the modules load, so a
 * throwaway signing secret stands in when none is set: no token is ever signed here.
 */
async function main(): Promise<void> {
  process.env.JWT_SECRET ||= randomBytes(32).toString('hex');
  const { AppModule } = await import('./app.module');
  const { setGlobalPrefix } = await import('./app.factory');
  const { buildOpenApiDocument } = await import('./core/http/openapi');
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({ workers: false }),
    new FastifyAdapter(),
    { preview: true, logger: false, abortOnError: false },
  );
  setGlobalPrefix(app);
  const document = JSON.stringify(buildOpenApiDocument(app), null, 2);
  const file = process.argv[2];
  if (file) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${document}\n`);
  } else process.stdout.write(`${document}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
