import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Three findings of `npm run bench:search` (100k cases, 1M transcript segments):
 *
 * 1. Partial indexes of the (few) deleted cases and audio files, so search can check
 *    "not deleted" with an anti-join on a tiny index instead of fetching the case and
 *    audio row of every match.
 * 2. `case_transcripts_refresh` recomputed each case's transcript lexemes with a
 *    subquery correlated to the case. Before the planner has statistics for
 *    `transcriptions` (a new table, or right after a bulk import) that subquery scans
 *    the whole table once per case: quadratic in a statement that inserts many
 *    transcriptions (measured: 24 s for 3,000). One grouped query over the statement's
 *    cases is linear whatever the plan; cases left without a latest transcript are
 *    cleared by a second statement.
 * 3. Folding transcript lexemes into `cases.search_vector` made every case vector several
 *    times wider, and ranking a frequent word several times slower (ts_rank reads the
 *    whole vector of every match). The case vector is back to code, title, description
 *    and notes; `transcripts_search` gets its own GIN index, and `GET /cases?q=` matches
 *    either (a BitmapOr of the two indexes), ranking by the case's own text. The vectors
 *    built the old way are rebuilt by the next migration (a backfill, kept apart).
 */
export class SearchTuning1795308724233 implements MigrationInterface {
  name = 'SearchTuning1795308724233';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "cases_deleted_idx" ON "cases" ("id") WHERE deleted_at IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "audio_files_deleted_idx" ON "audio_files" ("id") WHERE deleted_at IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION case_transcripts_refresh(case_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE cases c
           SET transcripts_search = agg.lexemes
          FROM (SELECT t.case_id, array_to_tsvector(array_agg(DISTINCT lexeme)) AS lexemes
                  FROM transcriptions t
                  JOIN audio_files a ON a.id = t.audio_file_id AND a.deleted_at IS NULL,
                       unnest(tsvector_to_array(t.case_lexemes)) AS lexeme
                 WHERE t.case_id = ANY (case_ids) AND t.is_latest
                 GROUP BY t.case_id) agg
         WHERE c.id = agg.case_id;
        UPDATE cases c
           SET transcripts_search = NULL
         WHERE c.id = ANY (case_ids) AND c.transcripts_search IS NOT NULL
           AND NOT EXISTS (
                 SELECT 1 FROM transcriptions t
                   JOIN audio_files a ON a.id = t.audio_file_id AND a.deleted_at IS NULL
                  WHERE t.case_id = c.id AND t.is_latest);
      EXCEPTION WHEN program_limit_exceeded THEN
        -- More distinct words than a tsvector holds (1 MB): keep the previous vector.
        RAISE WARNING 'transcripts of cases % exceed the tsvector size limit', case_ids;
      END
      $$`);
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
    await queryRunner.query(`DROP TRIGGER cases_search_refresh ON "cases"`);
    await queryRunner.query(
      `CREATE TRIGGER cases_search_refresh BEFORE INSERT OR UPDATE OF case_code, title, description, notes_search ON "cases" FOR EACH ROW EXECUTE FUNCTION cases_search_refresh()`,
    );
    await queryRunner.query(
      `CREATE INDEX "cases_transcripts_search_idx" ON "cases" USING GIN ("transcripts_search")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "cases_transcripts_search_idx"`);
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
    await queryRunner.query(`DROP INDEX "public"."audio_files_deleted_idx"`);
    await queryRunner.query(`DROP INDEX "public"."cases_deleted_idx"`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION case_transcripts_refresh(case_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
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
  }
}
