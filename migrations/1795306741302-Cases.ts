import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cases, participants, append-only notes and their lookups. By hand: the case-code
 * sequence, the full-text vector kept by triggers (code, title, description, notes)
 * with its GIN index, the partial index for listing live cases, and the trigger that
 * keeps notes append-only.
 */

export class Cases1795306741302 implements MigrationInterface {
  name = 'Cases1795306741302';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "case_statuses" ("code" character varying(32) NOT NULL, "description" text NOT NULL, "is_active" boolean NOT NULL DEFAULT true, CONSTRAINT "PK_a02d1b475ba41ceb699c84a6ac3" PRIMARY KEY ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "case_priorities" ("code" character varying(32) NOT NULL, "description" text NOT NULL, "weight" integer NOT NULL, CONSTRAINT "PK_9e365e9d378765a458bd22f3538" PRIMARY KEY ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "languages" ("code" character varying(16) NOT NULL, "name" character varying(100) NOT NULL, "search_config" character varying(32) NOT NULL DEFAULT 'simple', CONSTRAINT "PK_7397752718d1c9eb873722ec9b2" PRIMARY KEY ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "cases" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "case_code" character varying(32) NOT NULL, "title" character varying(300) NOT NULL, "description" text NOT NULL DEFAULT '', "status" character varying(32) NOT NULL, "priority" character varying(32) NOT NULL, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "closed_at" TIMESTAMP WITH TIME ZONE, "deleted_at" TIMESTAMP WITH TIME ZONE, "legal_hold_at" TIMESTAMP WITH TIME ZONE, "legal_hold_reason" text, "version" integer NOT NULL DEFAULT '1', "notes_search" tsvector, "search_vector" tsvector, CONSTRAINT "PK_264acb3048c240fb89aa34626db" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_1b751fc0b998422d8408ba0fe8" ON "cases" ("case_code") `,
    );
    await queryRunner.query(`CREATE INDEX "IDX_c71df5e7279ba08e88c6b47a55" ON "cases" ("status") `);
    await queryRunner.query(
      `CREATE INDEX "IDX_5c41feda395ad65490ba85808c" ON "cases" ("priority") `,
    );
    await queryRunner.query(
      `CREATE TABLE "case_participants" ("case_id" uuid NOT NULL, "user_id" uuid NOT NULL, "role" character varying(16) NOT NULL, "added_by" uuid, "added_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "case_participants_role_check" CHECK (role IN ('lead', 'member', 'viewer')), CONSTRAINT "PK_373c0a3648a29bbc5197ae79c90" PRIMARY KEY ("case_id", "user_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_373c0a3648a29bbc5197ae79c9" ON "case_participants" ("user_id", "case_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "case_notes" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "case_id" uuid NOT NULL, "author_id" uuid NOT NULL, "body" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_474011f166285b8da9a653af5c5" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_19222bf934aead4c9b7b0ec716" ON "case_notes" ("case_id", "created_at") `,
    );
    await queryRunner.query(
      `ALTER TABLE "cases" ADD CONSTRAINT "FK_c71df5e7279ba08e88c6b47a550" FOREIGN KEY ("status") REFERENCES "case_statuses"("code") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "cases" ADD CONSTRAINT "FK_5c41feda395ad65490ba85808c9" FOREIGN KEY ("priority") REFERENCES "case_priorities"("code") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "cases" ADD CONSTRAINT "FK_16623a33f4933798b679f058d0b" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_participants" ADD CONSTRAINT "FK_8d5282220bfe50de99b355798d5" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_participants" ADD CONSTRAINT "FK_0b60702a9e182d65db2bf084490" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_notes" ADD CONSTRAINT "FK_4d26581343306e406774e5c9c8c" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_notes" ADD CONSTRAINT "FK_5ac19cdf475f4f38f53523ab2fd" FOREIGN KEY ("author_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );

    await queryRunner.query(`CREATE SEQUENCE "case_code_seq" AS bigint`);
    await queryRunner.query(`
            CREATE FUNCTION cases_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.search_vector :=
                    setweight(to_tsvector('english', NEW.case_code), 'A') ||
                    setweight(to_tsvector('english', NEW.title), 'A') ||
                    setweight(to_tsvector('english', NEW.description), 'B') ||
                    coalesce(NEW.notes_search, ''::tsvector);
                RETURN NEW;
            END
            $$`);
    await queryRunner.query(
      `CREATE TRIGGER cases_search_refresh BEFORE INSERT OR UPDATE OF case_code, title, description, notes_search ON "cases" FOR EACH ROW EXECUTE FUNCTION cases_search_refresh()`,
    );
    await queryRunner.query(`
            CREATE FUNCTION case_notes_index() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE cases
                   SET notes_search = coalesce(notes_search, ''::tsvector) || setweight(to_tsvector('english', NEW.body), 'C')
                 WHERE id = NEW.case_id;
                RETURN NULL;
            END
            $$`);
    await queryRunner.query(
      `CREATE TRIGGER case_notes_index AFTER INSERT ON "case_notes" FOR EACH ROW EXECUTE FUNCTION case_notes_index()`,
    );
    await queryRunner.query(`
            CREATE FUNCTION refuse_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$`);
    await queryRunner.query(
      `CREATE TRIGGER case_notes_append_only BEFORE UPDATE OR DELETE ON "case_notes" FOR EACH ROW EXECUTE FUNCTION refuse_row_change()`,
    );
    await queryRunner.query(
      `CREATE INDEX "cases_search_vector_idx" ON "cases" USING GIN ("search_vector")`,
    );
    await queryRunner.query(
      `CREATE INDEX "cases_live_created_idx" ON "cases" ("created_at" DESC, "id") WHERE "deleted_at" IS NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "cases_live_created_idx"`);
    await queryRunner.query(`DROP INDEX "cases_search_vector_idx"`);
    await queryRunner.query(`DROP TRIGGER case_notes_append_only ON "case_notes"`);
    await queryRunner.query(`DROP FUNCTION refuse_row_change()`);
    await queryRunner.query(`DROP TRIGGER case_notes_index ON "case_notes"`);
    await queryRunner.query(`DROP FUNCTION case_notes_index()`);
    await queryRunner.query(`DROP TRIGGER cases_search_refresh ON "cases"`);
    await queryRunner.query(`DROP FUNCTION cases_search_refresh()`);
    await queryRunner.query(`DROP SEQUENCE "case_code_seq"`);
    await queryRunner.query(
      `ALTER TABLE "case_notes" DROP CONSTRAINT "FK_5ac19cdf475f4f38f53523ab2fd"`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_notes" DROP CONSTRAINT "FK_4d26581343306e406774e5c9c8c"`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_participants" DROP CONSTRAINT "FK_0b60702a9e182d65db2bf084490"`,
    );
    await queryRunner.query(
      `ALTER TABLE "case_participants" DROP CONSTRAINT "FK_8d5282220bfe50de99b355798d5"`,
    );
    await queryRunner.query(`ALTER TABLE "cases" DROP CONSTRAINT "FK_16623a33f4933798b679f058d0b"`);
    await queryRunner.query(`ALTER TABLE "cases" DROP CONSTRAINT "FK_5c41feda395ad65490ba85808c9"`);
    await queryRunner.query(`ALTER TABLE "cases" DROP CONSTRAINT "FK_c71df5e7279ba08e88c6b47a550"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_19222bf934aead4c9b7b0ec716"`);
    await queryRunner.query(`DROP TABLE "case_notes"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_373c0a3648a29bbc5197ae79c9"`);
    await queryRunner.query(`DROP TABLE "case_participants"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_5c41feda395ad65490ba85808c"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_c71df5e7279ba08e88c6b47a55"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_1b751fc0b998422d8408ba0fe8"`);
    await queryRunner.query(`DROP TABLE "cases"`);
    await queryRunner.query(`DROP TABLE "languages"`);
    await queryRunner.query(`DROP TABLE "case_priorities"`);
    await queryRunner.query(`DROP TABLE "case_statuses"`);
  }
}
