import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Backfill for SearchTuning: rebuilds the search vector of cases that carry transcript
 * lexemes from their own text and notes only (the trigger does the work when `title`
 * is set to itself). Nothing to undo: the previous migration's `down` folds transcripts
 * back in for cases written after it, and a vector without them only matches less.
 */
export class CaseVectorsOwnText1795308724234 implements MigrationInterface {
  name = 'CaseVectorsOwnText1795308724234';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE "cases" SET "title" = "title" WHERE "transcripts_search" IS NOT NULL`,
    );
  }

  public async down(): Promise<void> {
    // Data only; see above.
  }
}
