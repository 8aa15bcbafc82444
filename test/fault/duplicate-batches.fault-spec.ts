import type { Pool } from 'pg';
import { loginAsAdmin, startApp, TestApp, userSession } from '../support/app';
import {
  directPool,
  expectExactlyOnce,
  faultPrefix,
  Ingestor,
  persistedRows,
  range,
  waitFor,
} from '../support/fault-pipeline';
import { createConversation } from '../support/turns';

/**
 * TARGETS R4 across replicas: the same batch sent concurrently by several clients to two
 * separate API instances (one Redis, one database) is stored once per messageNumber.
 * The single-instance variant is in test/e2e/conversations.e2e-spec.ts.
 */
describe('R4: the same batch sent concurrently to two API instances', () => {
  const prefix = faultPrefix('r4');
  let first: TestApp;
  let second: TestApp;
  let pool: Pool;

  beforeAll(async () => {
    // One persists (workers in-process), the other only accepts.
    first = await startApp({ REDIS_PREFIX: prefix, WORKERS_ENABLED: 'true' });
    second = await startApp({ REDIS_PREFIX: prefix, WORKERS_ENABLED: 'false' });
    pool = directPool();
  });

  afterAll(async () => {
    await pool?.end();
    // Reverse order: each restores the environment the previous one saw.
    await second?.close();
    await first?.close();
  });

  it('stores one row per messageNumber, counted once', async () => {
    const admin = await loginAsAdmin(first.http);
    const session = await userSession(first.http, admin, 'case_worker');
    const id = (await createConversation(first.http, session)).id;
    const clients = [first, second, first, second].map((t) => new Ingestor(t.http, session.auth));

    // Identical batches, four clients, two instances, at once.
    const identical = await Promise.all(clients.map((c) => c.post(id, range(1, 1000))));
    // Overlapping batches, at once.
    const overlapping = await Promise.all(
      clients.map((c, i) => c.post(id, range(501 + i * 250, 1500 + i * 250))),
    );

    for (const outcome of [...identical, ...overlapping]) expect(outcome.status).toBe(202);
    const sum = (outcomes: typeof identical, field: 'accepted' | 'duplicates'): number =>
      outcomes.reduce((total, o) => total + (o.body as Record<typeof field, number>)[field], 0);
    expect({
      accepted: sum(identical, 'accepted'),
      duplicates: sum(identical, 'duplicates'),
    }).toEqual({ accepted: 1000, duplicates: 3000 });
    expect(sum(overlapping, 'accepted')).toBe(2250 - 1000);
    expect(sum(overlapping, 'accepted') + sum(overlapping, 'duplicates')).toBe(4000);

    await waitFor(
      () => persistedRows(pool, [id]),
      (rows) => rows >= 2250,
      30_000,
      (rows) => `${rows}/2250 rows persisted`,
    );
    await expectExactlyOnce(pool, new Map([[id, range(1, 2250)]]));
  }, 60_000);
});
