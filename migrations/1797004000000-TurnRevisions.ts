import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Turn revisions (SPEC section 10): a turn's cleaning fields change by PATCH, each change
 * numbered (`revision`, 1 for the turn as posted) and kept in `turn_revisions`. The turn
 * row holds the latest revision; the history table holds what each one set. The new
 * columns have constant defaults, so adding them to the partitioned table rewrites no row.
 * The history is keyed by (conversation, messageNumber, revision): the persistence worker
 * inserts with ON CONFLICT DO NOTHING, which makes re-persisting a revision harmless.
 */
export class TurnRevisions1797004000000 implements MigrationInterface {
  name = 'TurnRevisions1797004000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "turns" ADD "revision" integer NOT NULL DEFAULT 1`);
    await queryRunner.query(`ALTER TABLE "turns" ADD "updated_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "turns" ADD "engine_request_id" character varying(200)`);
    await queryRunner.query(`ALTER TABLE "turns" ADD "websocket_latency_ms" integer`);
    await queryRunner.query(`
            CREATE TABLE "turn_revisions" (
                "conversation_id" uuid NOT NULL,
                "message_number" integer NOT NULL,
                "revision" integer NOT NULL CHECK ("revision" >= 1),
                "changed_by" uuid,
                "changed_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "changes" jsonb NOT NULL,
                CONSTRAINT "turn_revisions_pkey" PRIMARY KEY ("conversation_id", "message_number", "revision")
            )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "turn_revisions"`);
    await queryRunner.query(`ALTER TABLE "turns" DROP COLUMN "websocket_latency_ms"`);
    await queryRunner.query(`ALTER TABLE "turns" DROP COLUMN "engine_request_id"`);
    await queryRunner.query(`ALTER TABLE "turns" DROP COLUMN "updated_at"`);
    await queryRunner.query(`ALTER TABLE "turns" DROP COLUMN "revision"`);
  }
}
