import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Conversation participant roles (`owner`, `member`, `viewer`; SPEC section 10) and why an
 * ended conversation ended (`request` or `idle`). DDL only: the existing rows get their
 * values in the next migration. Every existing participant starts as `member` (the
 * column default), which is what they were to the access layer until now.
 */
export class ConversationRolesAndEndedReason1797000200000 implements MigrationInterface {
  name = 'ConversationRolesAndEndedReason1797000200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "conversation_participants" ADD "role" character varying(16) NOT NULL DEFAULT 'member'`,
    );
    await queryRunner.query(
      `ALTER TABLE "conversation_participants" ADD CONSTRAINT "conversation_participants_role_check" CHECK (role IN ('owner', 'member', 'viewer'))`,
    );
    await queryRunner.query(`ALTER TABLE "conversations" ADD "ended_reason" character varying(16)`);
    await queryRunner.query(
      `ALTER TABLE "conversations" ADD CONSTRAINT "conversations_ended_reason_check" CHECK (ended_reason IN ('request', 'idle'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "conversations" DROP CONSTRAINT "conversations_ended_reason_check"`,
    );
    await queryRunner.query(`ALTER TABLE "conversations" DROP COLUMN "ended_reason"`);
    await queryRunner.query(
      `ALTER TABLE "conversation_participants" DROP CONSTRAINT "conversation_participants_role_check"`,
    );
    await queryRunner.query(`ALTER TABLE "conversation_participants" DROP COLUMN "role"`);
  }
}
