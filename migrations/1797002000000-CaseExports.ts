import { MigrationInterface, QueryRunner } from 'typeorm';

/** Signed case exports (SPEC section 13): one row per requested bundle. */
export class CaseExports1797002000000 implements MigrationInterface {
  name = 'CaseExports1797002000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "case_exports" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "case_id" uuid NOT NULL, "requested_by" uuid NOT NULL, "status" character varying(16) NOT NULL DEFAULT 'queued', "job_id" character varying(200) NOT NULL, "storage_key" character varying(512), "size_bytes" bigint, "sha256" character(64), "manifest_sha256" character(64), "key_id" character varying(32), "entry_count" integer, "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "completed_at" TIMESTAMP WITH TIME ZONE, "expires_at" TIMESTAMP WITH TIME ZONE, "expired_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "case_exports_status_check" CHECK (status IN ('queued', 'running', 'ready', 'failed', 'expired')), CONSTRAINT "PK_3f9164bf29b8b07a9ac19b633aa" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "case_exports_expiry_idx" ON "case_exports" ("expires_at") WHERE status = 'ready'`,
    );
    await queryRunner.query(
      `CREATE INDEX "case_exports_case_idx" ON "case_exports" ("case_id", "created_at")`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_exports" ADD CONSTRAINT "FK_b38b22be83a447a87f55b75c19c" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_exports" ADD CONSTRAINT "FK_ebde02029d10087f68546990e43" FOREIGN KEY ("requested_by") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "case_exports"`);
  }
}
