import { MigrationInterface, QueryRunner } from 'typeorm';

/** Outcomes of storage checks, purges and scheduled backups (SPEC section 12). */
export class DataLifecycle1797001000000 implements MigrationInterface {
  name = 'DataLifecycle1797001000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "maintenance_runs" ("id" BIGSERIAL NOT NULL, "kind" character varying(32) NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE NOT NULL, "succeeded" boolean NOT NULL, "result" jsonb NOT NULL DEFAULT '{}', "error" text, CONSTRAINT "PK_maintenance_runs" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "maintenance_runs_kind_finished_idx" ON "maintenance_runs" ("kind", "finished_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."maintenance_runs_kind_finished_idx"`);
    await queryRunner.query(`DROP TABLE "maintenance_runs"`);
  }
}
