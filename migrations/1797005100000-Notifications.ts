import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notifications (SPEC section 11): one row per recipient, written in the transaction of
 * the change that caused it. `seq` pages a user's list newest first; the partial indexes
 * serve the unread list and count, and the retention sweep of read notifications.
 */
export class Notifications1797005100000 implements MigrationInterface {
  name = 'Notifications1797005100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "notifications" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "seq" BIGSERIAL NOT NULL, "user_id" uuid NOT NULL, "type" character varying(64) NOT NULL, "title" character varying(300) NOT NULL, "resource_type" character varying(32) NOT NULL, "resource_id" character varying(64) NOT NULL, "case_id" uuid, "data" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "read_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_6a72c3c0f683f6462415e653c3a" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "notifications_read_at_idx" ON "notifications" ("read_at") WHERE read_at IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "notifications_unread_idx" ON "notifications" ("user_id", "seq") WHERE read_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "notifications_user_seq_idx" ON "notifications" ("user_id", "seq")`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD CONSTRAINT "FK_9a8a82462cab47c73d25f49261f" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "notifications" DROP CONSTRAINT "FK_9a8a82462cab47c73d25f49261f"`,
    );
    await queryRunner.query(`DROP INDEX "notifications_user_seq_idx"`);
    await queryRunner.query(`DROP INDEX "notifications_unread_idx"`);
    await queryRunner.query(`DROP INDEX "notifications_read_at_idx"`);
    await queryRunner.query(`DROP TABLE "notifications"`);
  }
}
