import { MigrationInterface, QueryRunner } from 'typeorm';

/** The chain lock of AuditRepository: no entry is appended while the old ones are numbered. */
const AUDIT_CHAIN_LOCK = 7_314_159_265;

/**
 * Numbers the existing audit entries 1, 2, 3, … in chain (id) order. The append-only
 * trigger is switched off for this one UPDATE, inside the migration's transaction, and
 * on again before it commits. A deletion made before this migration cannot show as a
 * gap (the numbering closes it); the hash links still reveal it.
 */
export class AuditSeqBackfill1796000500001 implements MigrationInterface {
  name = 'AuditSeqBackfill1796000500001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
    await queryRunner.query(`ALTER TABLE "audit_logs" DISABLE TRIGGER audit_logs_append_only`);
    await queryRunner.query(`
      UPDATE "audit_logs" a SET seq = numbered.seq
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS seq FROM "audit_logs") numbered
       WHERE a.id = numbered.id AND a.seq IS NULL`);
    await queryRunner.query(`ALTER TABLE "audit_logs" ENABLE TRIGGER audit_logs_append_only`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audit_logs" DISABLE TRIGGER audit_logs_append_only`);
    await queryRunner.query(`UPDATE "audit_logs" SET seq = NULL`);
    await queryRunner.query(`ALTER TABLE "audit_logs" ENABLE TRIGGER audit_logs_append_only`);
  }
}
