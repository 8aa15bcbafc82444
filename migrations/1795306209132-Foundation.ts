import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Identity, roles, API keys, the append-only hash-chained audit log and usage counters.
 * Generated from the entities, then extended by hand with what entities cannot express:
 * case-insensitive unique indexes, the audit id sequence and the append-only trigger.
 */

export class Foundation1795306209132 implements MigrationInterface {
  name = 'Foundation1795306209132';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "roles" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(64) NOT NULL, "description" text NOT NULL DEFAULT '', "permissions" jsonb NOT NULL DEFAULT '[]', "parent_role" character varying(64), "is_built_in" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "version" integer NOT NULL DEFAULT '1', CONSTRAINT "UQ_648e3f5447f725579d7d4ffdfb7" UNIQUE ("name"), CONSTRAINT "roles_permissions_array_check" CHECK (jsonb_typeof(permissions) = 'array'), CONSTRAINT "roles_name_format_check" CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$'), CONSTRAINT "PK_c1433d71a4838793a49dcad46ab" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "username" character varying(64) NOT NULL, "email" character varying(254) NOT NULL, "full_name" character varying(200) NOT NULL, "password_hash" text NOT NULL, "role" character varying(64) NOT NULL, "is_active" boolean NOT NULL DEFAULT true, "token_version" integer NOT NULL DEFAULT '0', "last_login_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "version" integer NOT NULL DEFAULT '1', CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "refresh_tokens" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "family_id" uuid NOT NULL, "token_hash" character(64) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "rotated_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7d8bee0204106019488c4c50ffa" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_3ddc983c5f7bcf132fd8732c3f" ON "refresh_tokens" ("user_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_d5e27da0cd39bc3bb2811fc8ba" ON "refresh_tokens" ("family_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "api_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "name" character varying(100) NOT NULL, "prefix" character varying(16) NOT NULL, "key_hash" character(64) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_a3baee01d8408cd3c0f89a9a97" ON "api_keys" ("user_id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_57384430aa1959f4578046c9b8" ON "api_keys" ("key_hash") `,
    );
    await queryRunner.query(
      `CREATE TABLE "usage_statistics" ("user_id" uuid NOT NULL, "month" date NOT NULL, "files_uploaded" integer NOT NULL DEFAULT '0', "bytes_uploaded" bigint NOT NULL DEFAULT '0', "audio_seconds" double precision NOT NULL DEFAULT '0', "transcriptions" integer NOT NULL DEFAULT '0', "jobs_succeeded" integer NOT NULL DEFAULT '0', "jobs_failed" integer NOT NULL DEFAULT '0', "turns_ingested" bigint NOT NULL DEFAULT '0', CONSTRAINT "PK_52db26337f62ef9912b5e0c425c" PRIMARY KEY ("user_id", "month"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "activity_types" ("code" character varying(64) NOT NULL, "description" text NOT NULL, CONSTRAINT "PK_ce7823da2e27674fbd0392e8678" PRIMARY KEY ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "audit_logs" ("id" bigint NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "actor_id" uuid, "actor_ip" character varying(64), "user_agent" character varying(512), "action" character varying(64) NOT NULL, "resource_type" character varying(64), "resource_id" character varying(128), "case_id" uuid, "outcome" character varying(16) NOT NULL, "details" jsonb NOT NULL DEFAULT '{}', "request_id" character varying(128), "prev_hash" character(64) NOT NULL, "hash" character(64) NOT NULL, CONSTRAINT "audit_logs_outcome_check" CHECK (outcome IN ('success', 'failure')), CONSTRAINT "PK_1bb179d048bbc581caa3b013439" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_36cd4615fabad14abad075ffc9" ON "audit_logs" ("occurred_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_96be8397eb45d1f40d84fcb9be" ON "audit_logs" ("action", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_11bdcef0c12eeca1137605ed6d" ON "audit_logs" ("resource_type", "resource_id", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_40820ee5b24a44916cbf69dc08" ON "audit_logs" ("case_id", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_21ab2a62ee34a3eaaec40449dc" ON "audit_logs" ("actor_id", "id") `,
    );
    await queryRunner.query(
      `ALTER TABLE "roles" ADD CONSTRAINT "FK_4045e660489f364288c0bb1328f" FOREIGN KEY ("parent_role") REFERENCES "roles"("name") ON DELETE RESTRICT ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "users" ADD CONSTRAINT "FK_ace513fa30d485cfd25c11a9e4a" FOREIGN KEY ("role") REFERENCES "roles"("name") ON DELETE RESTRICT ON UPDATE CASCADE`,
    );
    await queryRunner.query(
      `ALTER TABLE "refresh_tokens" ADD CONSTRAINT "FK_3ddc983c5f7bcf132fd8732c3f4" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "FK_a3baee01d8408cd3c0f89a9a973" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "audit_logs" ADD CONSTRAINT "FK_cee5459245f652b75eb2759b4ca" FOREIGN KEY ("action") REFERENCES "activity_types"("code") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );

    // Case-insensitive uniqueness of logins.
    await queryRunner.query(
      `CREATE UNIQUE INDEX "users_username_lower_key" ON "users" (lower("username"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "users_email_lower_key" ON "users" (lower("email"))`,
    );
    // Audit ids come from this sequence inside the chain lock, so id order is chain order.
    await queryRunner.query(
      `CREATE SEQUENCE "audit_logs_id_seq" AS bigint OWNED BY "audit_logs"."id"`,
    );
    // The database itself keeps the audit log append-only.
    await queryRunner.query(`
            CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$`);
    await queryRunner.query(
      `CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON "audit_logs" FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON "audit_logs" FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_refuse_change()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "audit_logs" DROP CONSTRAINT "FK_cee5459245f652b75eb2759b4ca"`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" DROP CONSTRAINT "FK_a3baee01d8408cd3c0f89a9a973"`,
    );
    await queryRunner.query(
      `ALTER TABLE "refresh_tokens" DROP CONSTRAINT "FK_3ddc983c5f7bcf132fd8732c3f4"`,
    );
    await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "FK_ace513fa30d485cfd25c11a9e4a"`);
    await queryRunner.query(`ALTER TABLE "roles" DROP CONSTRAINT "FK_4045e660489f364288c0bb1328f"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_21ab2a62ee34a3eaaec40449dc"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_40820ee5b24a44916cbf69dc08"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_11bdcef0c12eeca1137605ed6d"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_96be8397eb45d1f40d84fcb9be"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_36cd4615fabad14abad075ffc9"`);
    await queryRunner.query(`DROP TRIGGER audit_logs_no_truncate ON "audit_logs"`);
    await queryRunner.query(`DROP TRIGGER audit_logs_append_only ON "audit_logs"`);
    await queryRunner.query(`DROP FUNCTION audit_logs_refuse_change()`);
    await queryRunner.query(`DROP TABLE "audit_logs"`);
    await queryRunner.query(`DROP TABLE "activity_types"`);
    await queryRunner.query(`DROP TABLE "usage_statistics"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_57384430aa1959f4578046c9b8"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_a3baee01d8408cd3c0f89a9a97"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_d5e27da0cd39bc3bb2811fc8ba"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_3ddc983c5f7bcf132fd8732c3f"`);
    await queryRunner.query(`DROP TABLE "refresh_tokens"`);
    await queryRunner.query(`DROP INDEX "users_email_lower_key"`);
    await queryRunner.query(`DROP INDEX "users_username_lower_key"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP TABLE "roles"`);
  }
}
