import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Engine progress (SPEC section 11): the claimant's last report on its audio file, cleared
 * with the claim. An index for "my recent jobs" (`GET /audio?uploadedBy=&sort=-createdAt`).
 */
export class AudioProgress1797007000000 implements MigrationInterface {
  name = 'AudioProgress1797007000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "audio_files" ADD "progress_percent" double precision, ADD "progress_stage" character varying(64), ADD "progress_at" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" ADD CONSTRAINT "audio_files_progress_percent_check" CHECK (progress_percent BETWEEN 0 AND 100)`,
    );
    await queryRunner.query(
      `CREATE INDEX "audio_files_uploaded_by_created_idx" ON "audio_files" ("uploaded_by", "created_at") WHERE deleted_at IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."audio_files_uploaded_by_created_idx"`);
    await queryRunner.query(
      `ALTER TABLE "audio_files" DROP CONSTRAINT "audio_files_progress_percent_check"`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" DROP COLUMN "progress_at", DROP COLUMN "progress_stage", DROP COLUMN "progress_percent"`,
    );
  }
}
