import { MigrationInterface, QueryRunner } from 'typeorm';

/** Signed checkpoints of the audit chain's head (SPEC section 13): a cut tail shows. */
export class AuditCheckpoints1796000900000 implements MigrationInterface {
  name = 'AuditCheckpoints1796000900000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_checkpoints" ("id" BIGSERIAL NOT NULL, "last_id" bigint NOT NULL, "last_seq" bigint NOT NULL, "last_hash" character varying(64) NOT NULL, "count" bigint NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "key_id" character varying(32) NOT NULL, "signature" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_audit_checkpoints" PRIMARY KEY ("id"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_checkpoints"`);
  }
}
