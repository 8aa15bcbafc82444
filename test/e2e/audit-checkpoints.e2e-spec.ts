import { getQueueToken } from '@nestjs/bullmq';
import { Job, Queue } from 'bullmq';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditJobName } from '../../src/audit/audit-jobs';
import { QueueName } from '../../src/core/queue/queue-names';
import {
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { verifyChain, withAppendOnlyDisabled } from '../support/audit-support';
import { isolatedDatabase } from '../support/isolated-database';

interface Checkpoint {
  id: string;
  lastId: string;
  lastSeq: number;
  lastHash: string;
  count: number;
  at: string;
  keyId: string;
  signature: string;
  payload: string;
}

/**
 * Signed audit checkpoints (SPEC section 13; they close F8's cut tail): the worker's job
 * signs the head with a key outside the database, and verify holds the chain to it.
 * A database of its own: the tests cut and truncate the chain.
 */
describe('Audit checkpoints (SPEC section 13, F8 tail cut)', () => {
  let database: { url: string; drop: () => Promise<void> };
  let keysDir: string;
  let t: TestApp;
  let admin: Session;
  let queue: Queue;

  beforeAll(async () => {
    database = await isolatedDatabase('checkpoints');
    keysDir = await mkdtemp(join(tmpdir(), 'verbatim-keys-'));
    t = await startApp({
      DATABASE_URL: database.url,
      // Its own queues too: a worker of another suite's app must not take this spec's
      // checkpoint job and sign the other database's chain.
      REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-checkpoints`,
      KEYS_DIR: join(keysDir, 'keys'),
      AUDIT_CHECKPOINT_MINUTES: '30',
    });
    admin = await loginAsAdmin(t.http);
    queue = t.app.get<Queue>(getQueueToken(QueueName.AuditCheckpoint));
  });

  afterAll(async () => {
    await t?.close();
    await database?.drop();
    if (keysDir) await rm(keysDir, { recursive: true, force: true });
  });

  /** Runs the checkpoint job the scheduler runs, in the app's worker; its result. */
  async function runCheckpointJob(): Promise<{ checkpointId: string | null }> {
    const job = await queue.add(AuditJobName.Checkpoint, { requestedBy: null });
    for (let i = 0; i < 200; i++) {
      const state = await job.getState();
      if (state === 'completed') {
        return (await Job.fromId(queue, job.id!))!.returnvalue as { checkpointId: string | null };
      }
      if (state === 'failed') throw new Error(`checkpoint job failed: ${job.failedReason}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('checkpoint job did not finish');
  }

  /** A new entry, then a checkpoint of it: the job signs only a chain that moved. */
  async function freshCheckpoint(): Promise<string> {
    await loginAsAdmin(t.http);
    const { checkpointId } = await runCheckpointJob();
    expect(checkpointId).toMatch(/^\d+$/);
    return checkpointId!;
  }

  async function checkpoints(session = admin): Promise<Checkpoint[]> {
    const response = await t.http
      .get('/api/v1/audit/checkpoints')
      .set(session.auth)
      .query({ limit: '100' })
      .expect(200);
    return (response.body as { data: Checkpoint[] }).data;
  }

  it('is scheduled every AUDIT_CHECKPOINT_MINUTES', async () => {
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers).toEqual([
      expect.objectContaining({ name: AuditJobName.Checkpoint, every: 30 * 60_000 }),
    ]);
  });

  it('signs the head when the job runs, and not again while the chain stands still', async () => {
    // The scheduler also signed once as the worker started (BullMQ runs `every` at once).
    const checkpointId = await freshCheckpoint();
    const [head] = await t.db.query<{ id: string; seq: string; hash: string; count: string }[]>(
      `SELECT id::text, seq::text, hash, (SELECT count(*) FROM audit_logs)::text AS count
         FROM audit_logs ORDER BY id DESC LIMIT 1`,
    );
    const list = await checkpoints();
    expect(list.at(-1)!.id).toBe(checkpointId);
    const checkpoint = list.at(-1)!;
    expect(checkpoint).toMatchObject({
      id: checkpointId,
      lastId: head!.id,
      lastSeq: Number(head!.seq),
      lastHash: head!.hash,
      count: Number(head!.count),
    });
    expect(JSON.parse(checkpoint.payload)).toEqual({
      at: checkpoint.at,
      count: checkpoint.count,
      lastHash: checkpoint.lastHash,
      lastId: checkpoint.lastId,
      lastSeq: checkpoint.lastSeq,
    });
    expect((await runCheckpointJob()).checkpointId).toBeNull();

    // Anyone with the published public key checks it with node:crypto alone.
    const files = await readdir(join(keysDir, 'keys'));
    expect(files.sort()).toEqual([`${checkpoint.keyId}.pub.pem`, 'signing-key.pem']);
    const publicKey = createPublicKey(
      await readFile(join(keysDir, 'keys', `${checkpoint.keyId}.pub.pem`)),
    );
    expect(
      verify(
        null,
        Buffer.from(checkpoint.payload),
        publicKey,
        Buffer.from(checkpoint.signature, 'base64'),
      ),
    ).toBe(true);
    // The same key is published at the root, for verifiers without an account.
    const published = await t.http.get('/.well-known/verbatim-signing-key').expect(200);
    expect(published.body).toEqual({ keyId: checkpoint.keyId, publicKeyPem: expect.any(String) });
    expect(
      verify(
        null,
        Buffer.from(checkpoint.payload),
        createPublicKey(published.body.publicKeyPem as string),
        Buffer.from(checkpoint.signature, 'base64'),
      ),
    ).toBe(true);
    expect(published.text).not.toContain('PRIVATE KEY');
    // The private key is the owner's alone, and never in an answer.
    expect((await stat(join(keysDir, 'keys', 'signing-key.pem'))).mode & 0o777).toBe(0o600);
    const privatePem = await readFile(join(keysDir, 'keys', 'signing-key.pem'), 'utf8');
    const body = JSON.stringify(list);
    expect(body).not.toContain('PRIVATE KEY');
    expect(body).not.toContain(privatePem.split('\n')[1]!);
    expect(await verifyChain(t.http, admin)).toEqual({ valid: true, checked: expect.any(Number) });
  });

  it('lists checkpoints to audit:read only, with a cursor', async () => {
    const worker = await userSession(t.http, admin, 'case_worker');
    expectProblem(await t.http.get('/api/v1/audit/checkpoints').set(worker.auth), 403);
    await freshCheckpoint();
    const all = await checkpoints();
    expect(all.length).toBeGreaterThanOrEqual(2);
    const first = await t.http
      .get('/api/v1/audit/checkpoints')
      .set(admin.auth)
      .query({ limit: '1' })
      .expect(200);
    const page = first.body as { data: Checkpoint[]; meta: { nextCursor: string | null } };
    expect(page.data.map((c) => c.id)).toEqual([all[0]!.id]);
    const second = await t.http
      .get('/api/v1/audit/checkpoints')
      .set(admin.auth)
      .query({ limit: '1', after: page.meta.nextCursor! })
      .expect(200);
    expect((second.body as { data: Checkpoint[] }).data.map((c) => c.id)).toEqual([all[1]!.id]);
  });

  it('verifies from a checkpoint forward (fromCheckpoint)', async () => {
    const checkpointId = await freshCheckpoint();
    const start = (await checkpoints()).find((c) => c.id === checkpointId)!;
    // Three more entries after the checkpoint.
    for (let i = 0; i < 3; i++) await loginAsAdmin(t.http);
    const verdict = await t.http
      .get('/api/v1/audit/verify')
      .set(admin.auth)
      .query({ fromCheckpoint: start.id })
      .expect(200);
    expect(verdict.body).toEqual({ valid: true, checked: 3 });
    const full = await verifyChain(t.http, admin);
    expect(full.checked).toBe(start.lastSeq + 3);

    expectProblem(
      await t.http.get('/api/v1/audit/verify').set(admin.auth).query({ fromCheckpoint: '999999' }),
      404,
    );
    for (const query of [
      { fromCheckpoint: 'x' },
      { fromCheckpoint: '0' },
      { fromCheckpoint: start.id, from: new Date().toISOString() },
    ]) {
      expectProblem(await t.http.get('/api/v1/audit/verify').set(admin.auth).query(query), 400);
    }
  });

  it('fails with reason checkpoint when a checkpoint was tampered with', async () => {
    const checkpointId = await freshCheckpoint();
    const [row] = await t.db.query<{ signature: string; count: string }[]>(
      'SELECT signature, count::text AS count FROM audit_checkpoints WHERE id = $1',
      [checkpointId],
    );
    const forged = Buffer.from(row!.signature, 'base64');
    forged[0] = forged[0]! ^ 1;
    const tampers: [string, unknown[]][] = [
      ['UPDATE audit_checkpoints SET signature = $2 WHERE id = $1', [forged.toString('base64')]],
      ['UPDATE audit_checkpoints SET count = count - 1 WHERE id = $1', []],
    ];
    for (const [sql, params] of tampers) {
      await t.db.query(sql, [checkpointId, ...params]);
      try {
        expect(await verifyChain(t.http, admin)).toMatchObject({
          valid: false,
          reason: 'checkpoint',
          checkpointId,
        });
        const from = await t.http
          .get('/api/v1/audit/verify')
          .set(admin.auth)
          .query({ fromCheckpoint: checkpointId })
          .expect(200);
        expect(from.body).toMatchObject({ valid: false, reason: 'checkpoint', checkpointId });
      } finally {
        await t.db.query('UPDATE audit_checkpoints SET signature = $2, count = $3 WHERE id = $1', [
          checkpointId,
          row!.signature,
          row!.count,
        ]);
      }
    }
    expect((await verifyChain(t.http, admin)).valid).toBe(true);
  });

  it('F8: deleting the newest entries past a checkpoint, or all of them, fails verify', async () => {
    for (let i = 0; i < 2; i++) await loginAsAdmin(t.http);
    const checkpointId = await freshCheckpoint();
    const checkpoint = (await checkpoints()).find((c) => c.id === checkpointId)!;
    expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });

    // The tail cut the security probe made: the two newest entries, checkpoint's included.
    await withAppendOnlyDisabled(t.db, () =>
      t.db.query(
        'DELETE FROM audit_logs WHERE id IN (SELECT id FROM audit_logs ORDER BY id DESC LIMIT 2)',
      ),
    );
    const cut = await verifyChain(t.http, admin);
    expect(cut).toMatchObject({
      valid: false,
      reason: 'checkpoint',
      checkpointId,
      expectedSeq: checkpoint.lastSeq,
      foundSeq: checkpoint.lastSeq - 2,
    });
    expect(cut.checked).toBe(checkpoint.lastSeq - 2);

    await t.db.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_truncate');
    try {
      await t.db.query('TRUNCATE audit_logs');
    } finally {
      await t.db.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_truncate');
    }
    expect(await verifyChain(t.http, admin)).toMatchObject({
      valid: false,
      checked: 0,
      reason: 'checkpoint',
    });
  });
});
