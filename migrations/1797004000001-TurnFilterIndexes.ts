import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the turn-list filters (SPEC section 10, TARGETS P10). A page is "turns of
 * one conversation matching X after messageNumber N, in messageNumber order, 100 of
 * them", so each index is (conversation_id, <filtered value>, message_number): an ordered
 * range scan that stops after the page, as fast at 1,000,000 turns as at 10,000. Created
 * on the partitioned parent, so every month (and every future one) gets them; queries
 * name `partition_month`, which prunes to the conversation's one partition.
 * The confidence level is derived, so its index is on the very expression the repository
 * filters with (TURN_CONFIDENCE_LEVEL_SQL); errors are rare, so a partial index.
 * `cleaningLevel` and `cleaned` are left to the messageNumber order: they match most
 * turns of a cleaned transcript, where walking in order finds a page at once.
 */
export class TurnFilterIndexes1797004000001 implements MigrationInterface {
  name = 'TurnFilterIndexes1797004000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "turns_conversation_speaker_idx" ON "turns" ("conversation_id", "speaker", "message_number")`,
    );
    await queryRunner.query(
      `CREATE INDEX "turns_conversation_domain_idx" ON "turns" ("conversation_id", "business_domain", "message_number")`,
    );
    await queryRunner.query(
      `CREATE INDEX "turns_conversation_context_idx" ON "turns" ("conversation_id", "context_detected", "message_number")`,
    );
    await queryRunner.query(
      `CREATE INDEX "turns_conversation_level_idx" ON "turns" ("conversation_id", (CASE WHEN confidence >= 0.85 THEN 'HIGH' WHEN confidence >= 0.6 THEN 'MEDIUM' ELSE 'LOW' END), "message_number")`,
    );
    await queryRunner.query(
      `CREATE INDEX "turns_conversation_errors_idx" ON "turns" ("conversation_id", "message_number") WHERE transcription_error_detected`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "turns_conversation_errors_idx"`);
    await queryRunner.query(`DROP INDEX "turns_conversation_level_idx"`);
    await queryRunner.query(`DROP INDEX "turns_conversation_context_idx"`);
    await queryRunner.query(`DROP INDEX "turns_conversation_domain_idx"`);
    await queryRunner.query(`DROP INDEX "turns_conversation_speaker_idx"`);
  }
}
