import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every audit entry gets a gapless sequence number (`seq`: 1, 2, 3, … in chain order) and
 * the version of what its hash covers (`hash_version`). Entries that exist now were
 * hashed without `seq` and cannot be re-hashed: they are version 1 (the default here,
 * dropped at once so that every new entry states its version). The next migration numbers
 * them, the one after makes `seq` required and unique.
 */
export class AuditSeqColumns1796000500000 implements MigrationInterface {
  name = 'AuditSeqColumns1796000500000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audit_logs" ADD "seq" bigint`);
    await queryRunner.query(
      `ALTER TABLE "audit_logs" ADD "hash_version" smallint NOT NULL DEFAULT 1`,
    );
    await queryRunner.query(`ALTER TABLE "audit_logs" ALTER COLUMN "hash_version" DROP DEFAULT`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audit_logs" DROP COLUMN "hash_version"`);
    await queryRunner.query(`ALTER TABLE "audit_logs" DROP COLUMN "seq"`);
  }
}
