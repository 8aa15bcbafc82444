import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Case exports keep no sha256 of the whole tar: hashing every byte a second time (the
 * entries are hashed for the manifest) halved export throughput (P13), and the signed
 * manifest already pins every entry. The download's ETag is the manifest's sha256.
 */
export class CaseExportsNoBundleHash1797002000001 implements MigrationInterface {
  name = 'CaseExportsNoBundleHash1797002000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "case_exports" DROP COLUMN "sha256"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "case_exports" ADD "sha256" character(64)`);
  }
}
