import { MigrationInterface, QueryRunner } from 'typeorm';

/** `seq` is required and unique: two entries can never claim the same place in the chain. */
export class AuditSeqRequired1796000500002 implements MigrationInterface {
  name = 'AuditSeqRequired1796000500002';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "audit_logs" ALTER COLUMN "seq" SET NOT NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "audit_logs_seq_key" ON "audit_logs" ("seq")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."audit_logs_seq_key"`);
    await queryRunner.query(`ALTER TABLE "audit_logs" ALTER COLUMN "seq" DROP NOT NULL`);
  }
}
