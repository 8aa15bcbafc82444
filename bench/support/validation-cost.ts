/**
 * CPU per turn of the ingestion request body's validation (TurnsService.parse:
 * class-transformer + class-validator over `{ turns: [...] }`), next to JSON.parse of the
 * same body — the largest single per-turn cost of the API process in bench:ingest.
 *
 *   npx ts-node -T bench/support/validation-cost.ts
 */
import 'reflect-metadata';
import { TurnsService } from '../../src/conversations/turns/turns.service';
import { turnBody } from './turns';

const BATCH = 100;
const RUNS = 300;

async function cpuPerTurn(work: () => unknown): Promise<number> {
  for (let i = 0; i < 50; i++) await work();
  const before = process.cpuUsage();
  for (let i = 0; i < RUNS; i++) await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / RUNS / BATCH;
}

async function main(): Promise<void> {
  // parse() needs none of the service's collaborators.
  const service = Object.create(TurnsService.prototype) as TurnsService;
  const body = JSON.stringify({
    turns: Array.from({ length: BATCH }, (_, k) => turnBody(k + 1, Date.now())),
  });
  const json = await cpuPerTurn(() => JSON.parse(body));
  const validated = await cpuPerTurn(() => service.parse(JSON.parse(body)));
  console.log(`JSON.parse: ${json.toFixed(1)} µs CPU per turn`);
  console.log(`JSON.parse + TurnsService.parse: ${validated.toFixed(1)} µs CPU per turn`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
