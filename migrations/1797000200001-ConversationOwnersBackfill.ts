import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Existing data for the columns of 1797000200000: each conversation's creator becomes its
 * owner (everyone else stays `member`), and every conversation that had already ended was
 * ended by a client (the idle sweep did not exist yet). Re-running it changes nothing.
 */
export class ConversationOwnersBackfill1797000200001 implements MigrationInterface {
  name = 'ConversationOwnersBackfill1797000200001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE "conversation_participants" p SET "role" = 'owner'
         FROM "conversations" c
        WHERE c."id" = p."conversation_id" AND c."created_by" = p."user_id" AND p."role" <> 'owner'`,
    );
    await queryRunner.query(
      `UPDATE "conversations" SET "ended_reason" = 'request'
        WHERE "ended_at" IS NOT NULL AND "ended_reason" IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`UPDATE "conversations" SET "ended_reason" = NULL`);
    await queryRunner.query(
      `UPDATE "conversation_participants" SET "role" = 'member' WHERE "role" = 'owner'`,
    );
  }
}
