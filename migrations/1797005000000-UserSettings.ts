import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-user settings (SPEC section 11). A change notifies `verbatim_cache` with
 * `settings:<user_id>` (the function of AccessCacheInvalidation), so every process drops
 * the cached `pageSize` it applies as the user's default list limit.
 */
export class UserSettings1797005000000 implements MigrationInterface {
  name = 'UserSettings1797005000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "user_settings" ("user_id" uuid NOT NULL, "key" character varying(64) NOT NULL, "value" jsonb NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2a7075951229168cb8d8c512371" PRIMARY KEY ("user_id", "key"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_settings" ADD CONSTRAINT "FK_4ed056b9344e6f7d8d46ec4b302" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `CREATE TRIGGER user_settings_cache_invalidation AFTER INSERT OR UPDATE OR DELETE ON "user_settings" FOR EACH ROW EXECUTE FUNCTION notify_cache_invalidation('settings', 'user_id')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER user_settings_cache_invalidation ON "user_settings"`);
    await queryRunner.query(
      `ALTER TABLE "user_settings" DROP CONSTRAINT "FK_4ed056b9344e6f7d8d46ec4b302"`,
    );
    await queryRunner.query(`DROP TABLE "user_settings"`);
  }
}
