import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audio files and their status lookup. The partial unique index on (case_id, sha256)
 * refuses a second live copy of the same content in a case while letting a deleted
 * file's hash be uploaded again; the partial (status, created_at) index serves the
 * engines' work list (`GET /audio?status=queued`).
 */

export class AudioFiles1795307287454 implements MigrationInterface {
  name = 'AudioFiles1795307287454';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audio_statuses" ("code" character varying(32) NOT NULL, "description" text NOT NULL, CONSTRAINT "PK_0e33aa941375f011f973d67a7bb" PRIMARY KEY ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "audio_files" ("id" uuid NOT NULL, "case_id" uuid NOT NULL, "original_name" character varying(255) NOT NULL, "mime_type" character varying(100) NOT NULL, "size_bytes" bigint NOT NULL, "duration_seconds" double precision, "sha256" character(64) NOT NULL, "status" character varying(32) NOT NULL, "language" character varying(16), "processed_at" TIMESTAMP WITH TIME ZONE, "error_message" text, "claimed_by" uuid, "claimed_at" TIMESTAMP WITH TIME ZONE, "storage_type" character varying(8) NOT NULL, "storage_key" character varying(512) NOT NULL, "is_archived" boolean NOT NULL DEFAULT false, "archived_at" TIMESTAMP WITH TIME ZONE, "archive_reason" text, "verified_at" TIMESTAMP WITH TIME ZONE, "uploaded_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "deleted_at" TIMESTAMP WITH TIME ZONE, "version" integer NOT NULL DEFAULT '1', CONSTRAINT "audio_files_size_check" CHECK (size_bytes >= 0), CONSTRAINT "audio_files_storage_type_check" CHECK (storage_type IN ('local', 's3')), CONSTRAINT "PK_687c178ef33b4e0e1f83ae66cbb" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "audio_files_status_created_idx" ON "audio_files" ("status", "created_at") WHERE deleted_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "audio_files_case_created_idx" ON "audio_files" ("case_id", "created_at") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "audio_files_case_sha256_live_key" ON "audio_files" ("case_id", "sha256") WHERE deleted_at IS NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" ADD CONSTRAINT "FK_bc0e3d53f688dcc5bbd2e383100" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" ADD CONSTRAINT "FK_074de9877d0b64af83b6f846c05" FOREIGN KEY ("status") REFERENCES "audio_statuses"("code") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" ADD CONSTRAINT "FK_93b5c9f4e51da6c65c8705fae47" FOREIGN KEY ("language") REFERENCES "languages"("code") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" ADD CONSTRAINT "FK_693a8baaa13c1dab3b4f5ca55de" FOREIGN KEY ("claimed_by") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" ADD CONSTRAINT "FK_812934b97936be6fbe84976249b" FOREIGN KEY ("uploaded_by") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "audio_files" DROP CONSTRAINT "FK_812934b97936be6fbe84976249b"`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" DROP CONSTRAINT "FK_693a8baaa13c1dab3b4f5ca55de"`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" DROP CONSTRAINT "FK_93b5c9f4e51da6c65c8705fae47"`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" DROP CONSTRAINT "FK_074de9877d0b64af83b6f846c05"`,
    );
    await queryRunner.query(
      `ALTER TABLE "audio_files" DROP CONSTRAINT "FK_bc0e3d53f688dcc5bbd2e383100"`,
    );
    await queryRunner.query(`DROP INDEX "public"."audio_files_case_sha256_live_key"`);
    await queryRunner.query(`DROP INDEX "public"."audio_files_case_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."audio_files_status_created_idx"`);
    await queryRunner.query(`DROP TABLE "audio_files"`);
    await queryRunner.query(`DROP TABLE "audio_statuses"`);
  }
}
