import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Conversations, participants and the turns table. By hand: active-name uniqueness,
 * and `turns`, range-partitioned by month. The partition key is the month the
 * conversation started (copied onto every turn), not the turn's own time: a unique
 * index on a partitioned table must contain the partition key, and with a key that
 * is fixed per conversation, UNIQUE (conversation_id, message_number, partition_month)
 * is exactly the idempotency key (conversation_id, message_number).
 * `ensure_turn_partition(month)` creates a month on demand; conversations call it at
 * creation and the migration creates the surrounding months ahead of time.
 */

export class Conversations1795307240166 implements MigrationInterface {
  name = 'Conversations1795307240166';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "conversations" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "description" text NOT NULL DEFAULT '', "case_id" uuid, "status" character varying(16) NOT NULL DEFAULT 'active', "metadata" jsonb NOT NULL DEFAULT '{}', "join_password_hash" text, "partition_month" date NOT NULL, "turns_count" bigint NOT NULL DEFAULT '0', "total_processing_time_ms" bigint NOT NULL DEFAULT '0', "confidence_sum" double precision NOT NULL DEFAULT '0', "last_activity_at" TIMESTAMP WITH TIME ZONE, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "ended_at" TIMESTAMP WITH TIME ZONE, "seal_hash" character(64), "sealed_at" TIMESTAMP WITH TIME ZONE, "version" integer NOT NULL DEFAULT '1', CONSTRAINT "conversations_status_check" CHECK (status IN ('active', 'archived', 'deleted')), CONSTRAINT "PK_ee34f4f7ced4ec8681f26bf04ef" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_3c2e3ecc83b0c05a3b27864337" ON "conversations" ("case_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_517acf7e04a7232adb0c760c4b" ON "conversations" ("status") `,
    );
    await queryRunner.query(
      `CREATE TABLE "conversation_participants" ("conversation_id" uuid NOT NULL, "user_id" uuid NOT NULL, "via" character varying(16) NOT NULL DEFAULT 'invite', "joined_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_fdcd6405d74e797f10fa8360338" PRIMARY KEY ("conversation_id", "user_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_fdcd6405d74e797f10fa836033" ON "conversation_participants" ("user_id", "conversation_id") `,
    );
    await queryRunner.query(
      `ALTER TABLE "conversations" ADD CONSTRAINT "FK_3c2e3ecc83b0c05a3b27864337d" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "conversations" ADD CONSTRAINT "FK_81d92d15c62b3fff79c617c9043" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "conversation_participants" ADD CONSTRAINT "FK_1559e8a16b828f2e836a2312800" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "conversation_participants" ADD CONSTRAINT "FK_377d4041a495b81ee1a85ae026f" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );

    await queryRunner.query(
      `CREATE UNIQUE INDEX "conversations_active_name_key" ON "conversations" (lower("name")) WHERE "status" = 'active'`,
    );
    await queryRunner.query(`CREATE SEQUENCE "turns_id_seq" AS bigint`);
    await queryRunner.query(`
            CREATE TABLE "turns" (
                "id" bigint NOT NULL DEFAULT nextval('turns_id_seq'),
                "partition_month" date NOT NULL,
                "conversation_id" uuid NOT NULL,
                "message_number" integer NOT NULL CHECK ("message_number" >= 1),
                "speaker" character varying(100) NOT NULL,
                "raw_text" text NOT NULL,
                "cleaned_text" text,
                "spoken_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "confidence" real NOT NULL CHECK ("confidence" >= 0 AND "confidence" <= 1),
                "cleaning_applied" boolean NOT NULL DEFAULT false,
                "cleaning_level" character varying(8) NOT NULL DEFAULT 'none' CHECK ("cleaning_level" IN ('none', 'light', 'full')),
                "corrections" jsonb NOT NULL DEFAULT '[]',
                "context_detected" character varying(200),
                "business_domain" character varying(200),
                "conversation_flow" character varying(200),
                "ai_model_used" character varying(200),
                "transcription_error_detected" boolean NOT NULL DEFAULT false,
                "processing_time_ms" integer,
                "sliding_window_size" integer,
                "context_turns_used" integer,
                "ingested_by" uuid,
                "received_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "persisted_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                CONSTRAINT "turns_pkey" PRIMARY KEY ("id", "partition_month"),
                CONSTRAINT "turns_conversation_message_key" UNIQUE ("conversation_id", "message_number", "partition_month")
            ) PARTITION BY RANGE ("partition_month")`);
    await queryRunner.query(
      `CREATE INDEX "turns_conversation_spoken_idx" ON "turns" ("conversation_id", "spoken_at")`,
    );
    await queryRunner.query(`
            CREATE FUNCTION ensure_turn_partition(month date) RETURNS void LANGUAGE plpgsql AS $$
            DECLARE
                first_day date := date_trunc('month', month)::date;
                partition_name text := format('turns_%s', to_char(first_day, 'YYYY_MM'));
            BEGIN
                IF to_regclass(partition_name) IS NOT NULL THEN
                    RETURN;
                END IF;
                PERFORM pg_advisory_xact_lock(hashtext(partition_name));
                EXECUTE format(
                    'CREATE TABLE IF NOT EXISTS %I PARTITION OF turns FOR VALUES FROM (%L) TO (%L)',
                    partition_name, first_day, (first_day + interval '1 month')::date);
            END
            $$`);
    // Never refuse a turn for want of a partition; ensure_turn_partition keeps it empty.
    await queryRunner.query(`CREATE TABLE "turns_default" PARTITION OF "turns" DEFAULT`);
    await queryRunner.query(
      `SELECT ensure_turn_partition((date_trunc('month', now()) + make_interval(months => n))::date) FROM generate_series(-1, 2) AS n`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "turns"`);
    await queryRunner.query(`DROP FUNCTION ensure_turn_partition(date)`);
    await queryRunner.query(`DROP SEQUENCE "turns_id_seq"`);
    await queryRunner.query(`DROP INDEX "conversations_active_name_key"`);
    await queryRunner.query(
      `ALTER TABLE "conversation_participants" DROP CONSTRAINT "FK_377d4041a495b81ee1a85ae026f"`,
    );
    await queryRunner.query(
      `ALTER TABLE "conversation_participants" DROP CONSTRAINT "FK_1559e8a16b828f2e836a2312800"`,
    );
    await queryRunner.query(
      `ALTER TABLE "conversations" DROP CONSTRAINT "FK_81d92d15c62b3fff79c617c9043"`,
    );
    await queryRunner.query(
      `ALTER TABLE "conversations" DROP CONSTRAINT "FK_3c2e3ecc83b0c05a3b27864337d"`,
    );
    await queryRunner.query(`DROP INDEX "public"."IDX_fdcd6405d74e797f10fa836033"`);
    await queryRunner.query(`DROP TABLE "conversation_participants"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_517acf7e04a7232adb0c760c4b"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_3c2e3ecc83b0c05a3b27864337"`);
    await queryRunner.query(`DROP TABLE "conversations"`);
  }
}
