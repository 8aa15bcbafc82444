/**
 * Child process of the benchmarks: the "bare framework route" of TARGETS.md — a NestJS
 * app on the same Fastify adapter (same adapter options as createApp) whose routes
 * return constants. No guards, pipes, logging or database.
 */
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';

@Controller()
class PingController {
  @Get('ping')
  ping(): { ok: boolean } {
    return { ok: true };
  }

  /** Same shape of exchange as a single-turn POST: a JSON body in, 202 with a constant out. */
  @Post('ping')
  @HttpCode(202)
  accept(@Body() _body: unknown): { accepted: number; duplicates: number } {
    return { accepted: 1, duplicates: 0 };
  }
}

@Module({ controllers: [PingController] })
class BareModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(
    BareModule,
    new FastifyAdapter({ bodyLimit: 4 * 1024 * 1024 }),
    { logger: false },
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  process.send?.({ ready: true, port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
