import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Transcriptions and analysis results (versioned per audio file) and the `sentiments`
 * lookup. By hand:
 * - a trigger fills each transcription's search configuration (its language's, `simple`
 *   when unknown), its full-text vector and its English lexemes;
 * - a partial GIN index over the vectors of latest versions (what /search reads);
 * - `cases.transcripts_search`: the English lexemes of the latest transcripts of the
 *   case's live audio, refreshed by statement triggers and folded into the case's own
 *   search vector, so `GET /cases?q=` covers transcripts with the one GIN index it has;
 * - versions are immutable: a transcription may only lose `is_latest`, analyses never change.
 */
export class Transcriptions1795308724231 implements MigrationInterface {
  name = 'Transcriptions1795308724231';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "transcriptions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "audio_file_id" uuid NOT NULL, "case_id" uuid NOT NULL, "version" integer NOT NULL, "parent_version" integer, "audio_sha256" character(64) NOT NULL, "language" character varying(16), "search_config" character varying(32) NOT NULL DEFAULT 'simple', "content" text NOT NULL, "segments" jsonb NOT NULL, "segment_count" integer NOT NULL, "engine" character varying(200) NOT NULL, "confidence" double precision, "is_latest" boolean NOT NULL DEFAULT true, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "search_vector" tsvector, "case_lexemes" tsvector, CONSTRAINT "transcriptions_audio_version_key" UNIQUE ("audio_file_id", "version"), CONSTRAINT "transcriptions_confidence_check" CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)), CONSTRAINT "transcriptions_parent_version_check" CHECK (parent_version IS NULL OR (parent_version >= 1 AND parent_version < version)), CONSTRAINT "transcriptions_segments_array_check" CHECK (jsonb_typeof(segments) = 'array'), CONSTRAINT "transcriptions_version_check" CHECK (version >= 1), CONSTRAINT "PK_cba8a0264bdf2680c0d93fc7d17" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "transcriptions_case_idx" ON "transcriptions" ("case_id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "transcriptions_audio_latest_key" ON "transcriptions" ("audio_file_id") WHERE is_latest`,
    );
    await queryRunner.query(
      `CREATE TABLE "sentiments" ("code" character varying(32) NOT NULL, "description" text NOT NULL, CONSTRAINT "PK_12d09112da72594511a35efbeba" PRIMARY KEY ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "analysis_results" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "audio_file_id" uuid NOT NULL, "transcription_id" uuid NOT NULL, "transcription_version" integer NOT NULL, "version" integer NOT NULL, "summary" text NOT NULL DEFAULT '', "sentiment" character varying(32), "sentiment_score" double precision, "details" jsonb NOT NULL DEFAULT '{}', "engine" character varying(200) NOT NULL, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "analysis_results_audio_version_key" UNIQUE ("audio_file_id", "version"), CONSTRAINT "analysis_results_sentiment_score_check" CHECK (sentiment_score IS NULL OR (sentiment_score >= -1 AND sentiment_score <= 1)), CONSTRAINT "analysis_results_details_object_check" CHECK (jsonb_typeof(details) = 'object'), CONSTRAINT "analysis_results_version_check" CHECK (version >= 1), CONSTRAINT "PK_56560e3511c57e1db64a3ad93eb" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "analysis_results_transcription_idx" ON "analysis_results" ("transcription_id", "version") `,
    );
    await queryRunner.query(`ALTER TABLE "cases" ADD "transcripts_search" tsvector`);
    await queryRunner.query(
      `ALTER TABLE "transcriptions" ADD CONSTRAINT "FK_69367ec6c1aa24913f6b98d73f8" FOREIGN KEY ("audio_file_id") REFERENCES "audio_files"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "transcriptions" ADD CONSTRAINT "FK_98de534da84929e290775f56a95" FOREIGN KEY ("case_id") REFERENCES "cases"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "transcriptions" ADD CONSTRAINT "FK_cb94e95b00707a228ebebbecadb" FOREIGN KEY ("language") REFERENCES "languages"("code") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "transcriptions" ADD CONSTRAINT "FK_3aa3e747041ea9c83119fd50947" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "analysis_results" ADD CONSTRAINT "FK_1bc2b8e586ba9210529f6df3886" FOREIGN KEY ("audio_file_id") REFERENCES "audio_files"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "analysis_results" ADD CONSTRAINT "FK_db473e69380e3c8ec30c12ab2dd" FOREIGN KEY ("transcription_id") REFERENCES "transcriptions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "analysis_results" ADD CONSTRAINT "FK_f8dc9beb1c84ca3b7fc7861147d" FOREIGN KEY ("sentiment") REFERENCES "sentiments"("code") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "analysis_results" ADD CONSTRAINT "FK_1dd290029f7357111dcbfea6917" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );

    // --- by hand: search ---------------------------------------------------------
    await queryRunner.query(`
      CREATE FUNCTION transcriptions_search_fill() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.search_config := coalesce(
          (SELECT search_config FROM languages WHERE code = NEW.language), 'simple');
        NEW.search_vector := to_tsvector(NEW.search_config::regconfig, NEW.content);
        NEW.case_lexemes := CASE WHEN NEW.search_config = 'english' THEN strip(NEW.search_vector)
                                 ELSE strip(to_tsvector('english', NEW.content)) END;
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(
      `CREATE TRIGGER transcriptions_search_fill BEFORE INSERT ON "transcriptions" FOR EACH ROW EXECUTE FUNCTION transcriptions_search_fill()`,
    );
    await queryRunner.query(
      `CREATE INDEX "transcriptions_search_vector_idx" ON "transcriptions" USING GIN ("search_vector") WHERE "is_latest"`,
    );
    await queryRunner.query(`
      CREATE FUNCTION case_transcripts_refresh(case_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE cases c
           SET transcripts_search = (
                 SELECT array_to_tsvector(coalesce(array_agg(DISTINCT lexeme), '{}'))
                   FROM transcriptions t
                   JOIN audio_files a ON a.id = t.audio_file_id AND a.deleted_at IS NULL,
                        unnest(tsvector_to_array(t.case_lexemes)) AS lexeme
                  WHERE t.case_id = c.id AND t.is_latest)
         WHERE c.id = ANY (case_ids);
      EXCEPTION WHEN program_limit_exceeded THEN
        -- More distinct words than a tsvector holds (1 MB): keep the previous vector.
        RAISE WARNING 'transcripts of cases % exceed the tsvector size limit', case_ids;
      END
      $$`);
    await queryRunner.query(`
      CREATE FUNCTION transcriptions_case_search() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM case_transcripts_refresh(ARRAY(SELECT DISTINCT case_id FROM inserted));
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(
      `CREATE TRIGGER transcriptions_case_search AFTER INSERT ON "transcriptions" REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION transcriptions_case_search()`,
    );
    await queryRunner.query(`
      CREATE FUNCTION audio_files_case_search() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM case_transcripts_refresh(ARRAY[NEW.case_id]);
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(
      `CREATE TRIGGER audio_files_case_search AFTER UPDATE OF deleted_at ON "audio_files" FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at) EXECUTE FUNCTION audio_files_case_search()`,
    );
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION cases_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.search_vector :=
          setweight(to_tsvector('english', NEW.case_code), 'A') ||
          setweight(to_tsvector('english', NEW.title), 'A') ||
          setweight(to_tsvector('english', NEW.description), 'B') ||
          coalesce(NEW.notes_search, ''::tsvector) ||
          coalesce(NEW.transcripts_search, ''::tsvector);
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`DROP TRIGGER cases_search_refresh ON "cases"`);
    await queryRunner.query(
      `CREATE TRIGGER cases_search_refresh BEFORE INSERT OR UPDATE OF case_code, title, description, notes_search, transcripts_search ON "cases" FOR EACH ROW EXECUTE FUNCTION cases_search_refresh()`,
    );

    // --- by hand: versions are immutable -------------------------------------------
    await queryRunner.query(`
      CREATE FUNCTION transcriptions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' OR NOT (OLD.is_latest AND NOT NEW.is_latest)
           OR (to_jsonb(NEW) - 'is_latest') IS DISTINCT FROM (to_jsonb(OLD) - 'is_latest') THEN
          RAISE EXCEPTION 'transcription versions are immutable: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(
      `CREATE TRIGGER transcriptions_immutable BEFORE UPDATE OR DELETE ON "transcriptions" FOR EACH ROW EXECUTE FUNCTION transcriptions_immutable()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER analysis_results_append_only BEFORE UPDATE OR DELETE ON "analysis_results" FOR EACH ROW EXECUTE FUNCTION refuse_row_change()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER analysis_results_append_only ON "analysis_results"`);
    await queryRunner.query(`DROP TRIGGER transcriptions_immutable ON "transcriptions"`);
    await queryRunner.query(`DROP FUNCTION transcriptions_immutable()`);
    await queryRunner.query(`DROP TRIGGER cases_search_refresh ON "cases"`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION cases_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
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
    await queryRunner.query(`DROP TRIGGER audio_files_case_search ON "audio_files"`);
    await queryRunner.query(`DROP FUNCTION audio_files_case_search()`);
    await queryRunner.query(`DROP TRIGGER transcriptions_case_search ON "transcriptions"`);
    await queryRunner.query(`DROP FUNCTION transcriptions_case_search()`);
    await queryRunner.query(`DROP FUNCTION case_transcripts_refresh(uuid[])`);
    await queryRunner.query(`DROP INDEX "transcriptions_search_vector_idx"`);
    await queryRunner.query(`DROP TRIGGER transcriptions_search_fill ON "transcriptions"`);
    await queryRunner.query(`DROP FUNCTION transcriptions_search_fill()`);

    await queryRunner.query(
      `ALTER TABLE "analysis_results" DROP CONSTRAINT "FK_1dd290029f7357111dcbfea6917"`,
    );
    await queryRunner.query(
      `ALTER TABLE "analysis_results" DROP CONSTRAINT "FK_f8dc9beb1c84ca3b7fc7861147d"`,
    );
    await queryRunner.query(
      `ALTER TABLE "analysis_results" DROP CONSTRAINT "FK_db473e69380e3c8ec30c12ab2dd"`,
    );
    await queryRunner.query(
      `ALTER TABLE "analysis_results" DROP CONSTRAINT "FK_1bc2b8e586ba9210529f6df3886"`,
    );
    await queryRunner.query(
      `ALTER TABLE "transcriptions" DROP CONSTRAINT "FK_3aa3e747041ea9c83119fd50947"`,
    );
    await queryRunner.query(
      `ALTER TABLE "transcriptions" DROP CONSTRAINT "FK_cb94e95b00707a228ebebbecadb"`,
    );
    await queryRunner.query(
      `ALTER TABLE "transcriptions" DROP CONSTRAINT "FK_98de534da84929e290775f56a95"`,
    );
    await queryRunner.query(
      `ALTER TABLE "transcriptions" DROP CONSTRAINT "FK_69367ec6c1aa24913f6b98d73f8"`,
    );
    await queryRunner.query(`ALTER TABLE "cases" DROP COLUMN "transcripts_search"`);
    await queryRunner.query(`DROP INDEX "public"."analysis_results_transcription_idx"`);
    await queryRunner.query(`DROP TABLE "analysis_results"`);
    await queryRunner.query(`DROP TABLE "sentiments"`);
    await queryRunner.query(`DROP INDEX "public"."transcriptions_audio_latest_key"`);
    await queryRunner.query(`DROP INDEX "public"."transcriptions_case_idx"`);
    await queryRunner.query(`DROP TABLE "transcriptions"`);
  }
}
