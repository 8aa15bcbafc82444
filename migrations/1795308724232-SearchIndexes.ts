import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Full-text indexes for `GET /search` over notes and live turns. Neither has a known
 * language, so both use the `simple` configuration, and both are expression indexes
 * rather than stored vectors: notes are append-only and small, and turns are written
 * at ≥ 20k rows/s, where a trigger-kept column would cost every insert a second parse
 * and a wider row. The turns index is created on the partitioned table, so every month
 * partition (present and future) gets its own. GIN's fast-update pending list (on by
 * default) keeps the cost per inserted turn low; `npm run bench:search` measures it.
 */
export class SearchIndexes1795308724232 implements MigrationInterface {
  name = 'SearchIndexes1795308724232';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "case_notes_search_idx" ON "case_notes" USING GIN (to_tsvector('simple'::regconfig, "body"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "turns_search_idx" ON "turns" USING GIN (to_tsvector('simple'::regconfig, coalesce("cleaned_text", "raw_text")))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "turns_search_idx"`);
    await queryRunner.query(`DROP INDEX "case_notes_search_idx"`);
  }
}
