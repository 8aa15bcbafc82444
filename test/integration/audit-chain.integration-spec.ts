import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, QueryRunner } from 'typeorm';
import { chainHash, ChainVerdict, GENESIS_HASH } from '../../src/audit/audit-chain';
import { AuditRepository, NewAuditEntry } from '../../src/audit/audit.repository';
import { AuditEvent, AuditService } from '../../src/audit/audit.service';
import { AuditCheckpointsRepository } from '../../src/audit/audit-checkpoints.repository';
import { AuditCheckpointsService } from '../../src/audit/audit-checkpoints.service';
import { ClockModule } from '../../src/core/clock/clock.module';
import { ConfigModule } from '../../src/core/config/config.module';
import { databaseOptions } from '../../src/core/database/database-options';
import { DatabaseModule } from '../../src/core/database/database.module';
import { RequestContext } from '../../src/core/http/request-context';
import { SigningModule } from '../../src/core/signing/signing.module';
import { bootIntegration, Integration } from '../support/integration';

/**
 * The audit chain below HTTP: AuditRepository appends and AuditService verifies against a
 * real Postgres. The database is the spec's own: it owns the whole chain, appends to it
 * from several pools at once, and tampers with it as a superuser would.
 */
describe('Audit chain (integration)', () => {
  let integration: Integration;
  let db: DataSource;
  let repository: AuditRepository;
  let audit: AuditService;

  beforeAll(async () => {
    integration = await bootIntegration(
      'audit',
      {
        imports: [ConfigModule, ClockModule, SigningModule, DatabaseModule],
        providers: [
          AuditRepository,
          AuditCheckpointsRepository,
          AuditCheckpointsService,
          AuditService,
          RequestContext,
        ],
      },
      { env: { KEYS_DIR: join(tmpdir(), `verbatim-audit-keys-${randomUUID()}`) } },
    );
    db = integration.db;
    repository = integration.moduleRef.get(AuditRepository);
    audit = integration.moduleRef.get(AuditService);
  });

  afterAll(() => integration?.close());

  interface Link {
    id: string;
    seq: number;
    prevHash: string;
    hash: string;
    resourceId: string | null;
  }

  /** The whole chain in id order, as stored. */
  async function chain(): Promise<Link[]> {
    const rows = await db.query<
      { id: string; seq: string; prev_hash: string; hash: string; resource_id: string | null }[]
    >(
      'SELECT a.id::text AS id, a.seq::text AS seq, a.prev_hash, a.hash, a.resource_id FROM audit_logs a ORDER BY a.id',
    );
    return rows.map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      resourceId: r.resource_id,
    }));
  }

  /** One chain from the genesis: seq 1, 2, 3, … and each entry linked to the one before. */
  function expectOneGaplessChain(links: Link[]): void {
    expect(links.map((l) => l.seq)).toEqual(links.map((_, i) => i + 1));
    links.forEach((link, i) =>
      expect(link.prevHash).toBe(i === 0 ? GENESIS_HASH : links[i - 1]!.hash),
    );
  }

  const entry = (resourceId: string = randomUUID()): NewAuditEntry => ({
    occurredAt: new Date(),
    actorId: null,
    actorIp: null,
    userAgent: 'integration',
    action: 'audio.verify',
    resourceType: 'audio',
    resourceId,
    caseId: null,
    outcome: 'success',
    details: { note: 'integration' },
    requestId: null,
  });

  const event = (resourceId: string = randomUUID()): AuditEvent => ({
    action: 'audio.verify',
    resourceType: 'audio',
    resourceId,
    actorId: null,
    details: { note: 'integration' },
  });

  describe('append', () => {
    it('links a single entry to the head: next seq, prevHash = head hash, hash over its content', async () => {
      await audit.record(event());
      const [head] = (await chain()).slice(-1);
      const resourceId = randomUUID();
      const row = await repository.inTransaction((manager) =>
        repository.append(entry(resourceId), manager),
      );
      expect(row.seq).toBe(head!.seq + 1);
      expect(row.prevHash).toBe(head!.hash);
      const { prevHash, hash, ...content } = row;
      expect(hash).toBe(chainHash(prevHash, content));
      const [stored] = (await chain()).slice(-1);
      expect(stored).toEqual({ id: row.id, seq: row.seq, prevHash, hash, resourceId });
    });

    it('chains a batch in the order given, in one statement, each linked to the one before', async () => {
      const ids = Array.from({ length: 6 }, () => randomUUID());
      const before = await chain();
      await audit.recordMany(ids.map((id) => event(id)));
      const after = await chain();
      const added = after.slice(before.length);
      expect(added.map((l) => l.resourceId)).toEqual(ids);
      expect(added[0]!.prevHash).toBe(before[before.length - 1]!.hash);
      expectOneGaplessChain(after);
    });

    it('an append rolled back with its transaction leaves no entry and no gap in seq', async () => {
      const before = await chain();
      await expect(
        repository.inTransaction(async (manager) => {
          await repository.append(entry(), manager);
          throw new Error('the change it audited failed');
        }),
      ).rejects.toThrow('the change it audited failed');
      await audit.record(event());
      const after = await chain();
      expect(after).toHaveLength(before.length + 1);
      expectOneGaplessChain(after);
    });

    it('concurrent appends from many connections (several pools, as several processes) keep one chain with gapless seq', async () => {
      const pools = await Promise.all(
        Array.from({ length: 3 }, async () => {
          const ds = new DataSource(databaseOptions({ url: urlOf(db), poolSize: 4 }));
          await ds.initialize();
          return ds;
        }),
      );
      try {
        const writers = [repository, ...pools.map((ds) => new AuditRepository(ds))];
        const before = await chain();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 48 }, (_, i) => {
            const writer = writers[i % writers.length]!;
            const batch = Array.from({ length: (i % 3) + 1 }, () => entry());
            return writer.inTransaction(async (manager) => {
              await writer.appendMany(batch, manager);
              // Every fourth one rolls back after appending: it must leave no hole.
              if (i % 4 === 3) throw new Error('rolled back');
            });
          }),
        );
        expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(12);
        const after = await chain();
        const committed = Array.from({ length: 48 }, (_, i) => i)
          .filter((i) => i % 4 !== 3)
          .reduce((n, i) => n + (i % 3) + 1, 0);
        expect(after.length - before.length).toBe(committed);
        expectOneGaplessChain(after);
        expect(new Set(after.map((l) => l.hash)).size).toBe(after.length);
        expect(await audit.verify({})).toEqual({ valid: true, checked: after.length });
      } finally {
        await Promise.all(pools.map((ds) => ds.destroy()));
      }
    });
  });

  describe('verify', () => {
    /**
     * A session of the spec's own as superuser with triggers off (the append-only trigger
     * included): what an attacker with the database's keys can do. Only this connection.
     */
    async function asSuperuser<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
      const runner = db.createQueryRunner();
      await runner.connect();
      try {
        await runner.query(`SET session_replication_role = replica`);
        return await work(runner);
      } finally {
        await runner.query(`SET session_replication_role = DEFAULT`);
        await runner.release();
      }
    }

    /** Three fresh entries in a row: the middle one is tampered with. */
    async function freshTriple(): Promise<[Link, Link, Link]> {
      await audit.recordMany([event(), event(), event()]);
      return (await chain()).slice(-3) as [Link, Link, Link];
    }

    const verify = (): Promise<ChainVerdict> => audit.verify({});

    it('a chain as appended is valid, every entry checked', async () => {
      await audit.recordMany([event(), event()]);
      const links = await chain();
      expect(await verify()).toEqual({ valid: true, checked: links.length });
      // A range verifies the part it selects, from the entry before it.
      const from = new Date(Date.now() - 60_000);
      expect((await audit.verify({ from })).valid).toBe(true);
    });

    it('an edited row: reason content at that entry', async () => {
      const [, middle] = await freshTriple();
      await asSuperuser(async (runner) => {
        await runner.query(
          `UPDATE audit_logs SET details = '{"note":"edited"}'::jsonb WHERE id = $1`,
          [middle.id],
        );
        try {
          expect(await verify()).toMatchObject({
            valid: false,
            firstBrokenId: middle.id,
            reason: 'content',
          });
        } finally {
          await runner.query(
            `UPDATE audit_logs SET details = '{"note":"integration"}'::jsonb WHERE id = $1`,
            [middle.id],
          );
        }
      });
      expect((await verify()).valid).toBe(true);
    });

    it('an entry edited and re-hashed to cover the edit: reason link at the next entry', async () => {
      const [, middle, last] = await repository.inTransaction((manager) =>
        repository.appendMany([entry(), entry(), entry()], manager),
      );
      const { prevHash, hash, ...content } = middle!;
      const forged = chainHash(prevHash, { ...content, details: { note: 'edited' } });
      await asSuperuser(async (runner) => {
        await runner.query(
          `UPDATE audit_logs SET details = '{"note":"edited"}'::jsonb, hash = $2 WHERE id = $1`,
          [middle!.id, forged],
        );
        try {
          expect(await verify()).toMatchObject({
            valid: false,
            firstBrokenId: last!.id,
            reason: 'link',
          });
        } finally {
          await runner.query(
            `UPDATE audit_logs SET details = '{"note":"integration"}'::jsonb, hash = $2 WHERE id = $1`,
            [middle!.id, hash],
          );
        }
      });
      expect((await verify()).valid).toBe(true);
    });

    it('a deleted middle row: reason seq_gap at the next entry, naming the missing seq', async () => {
      const [, middle, last] = await freshTriple();
      await asSuperuser(async (runner) => {
        await runner.query(
          `CREATE TEMP TABLE audit_deleted AS SELECT * FROM audit_logs WHERE id = $1`,
          [middle.id],
        );
        await runner.query(`DELETE FROM audit_logs WHERE id = $1`, [middle.id]);
        try {
          expect(await verify()).toEqual({
            valid: false,
            checked: expect.any(Number) as number,
            firstBrokenId: last.id,
            reason: 'seq_gap',
            expectedSeq: middle.seq,
            foundSeq: last.seq,
          });
        } finally {
          await runner.query(`INSERT INTO audit_logs SELECT * FROM audit_deleted`);
          await runner.query(`DROP TABLE audit_deleted`);
        }
      });
      expect((await verify()).valid).toBe(true);
    });

    it('a re-appended entry (a copy under a new id): refused by the seq index, and named seq_order once the index is gone', async () => {
      const [first] = await freshTriple();
      const columns = `occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
        resource_id, case_id, outcome, details, request_id, prev_hash, hash, seq, hash_version`;
      const reappend = (runner: QueryRunner): Promise<unknown> =>
        runner.query(
          `INSERT INTO audit_logs (id, ${columns})
           SELECT nextval('audit_logs_id_seq'), ${columns} FROM audit_logs WHERE id = $1`,
          [first.id],
        );
      await asSuperuser(async (runner) => {
        await expect(reappend(runner)).rejects.toThrow(/audit_logs_seq_key/);
        const tail = (await chain()).slice(-1)[0]!;
        await runner.query(`DROP INDEX audit_logs_seq_key`);
        try {
          await reappend(runner);
          const copy = (await chain()).slice(-1)[0]!;
          expect(await verify()).toEqual({
            valid: false,
            checked: expect.any(Number) as number,
            firstBrokenId: copy.id,
            reason: 'seq_order',
            expectedSeq: tail.seq + 1,
            foundSeq: first.seq,
          });
          await runner.query(`DELETE FROM audit_logs WHERE id = $1`, [copy.id]);
        } finally {
          await runner.query(`CREATE UNIQUE INDEX audit_logs_seq_key ON audit_logs (seq)`);
        }
      });
      expect((await verify()).valid).toBe(true);
    });
  });
});

function urlOf(db: DataSource): string {
  return (db.options as { url?: string }).url!;
}
