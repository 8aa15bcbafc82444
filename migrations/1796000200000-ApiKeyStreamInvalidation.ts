import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Revoking (or deleting) an API key notifies `verbatim_cache` with `api-key:<id>`, like
 * the access-cache triggers of AccessCacheInvalidation do for users and sessions, so a
 * live stream opened with that key re-checks its access at once (src/core/sse) in every
 * process, whichever code path revoked it. No cache holds API keys, so nothing else
 * listens for the tag.
 */
export class ApiKeyStreamInvalidation1796000200000 implements MigrationInterface {
  name = 'ApiKeyStreamInvalidation1796000200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TRIGGER api_keys_cache_invalidation AFTER UPDATE OF revoked_at, expires_at OR DELETE ON "api_keys" FOR EACH ROW EXECUTE FUNCTION notify_cache_invalidation('api-key', 'id')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER api_keys_cache_invalidation ON "api_keys"`);
  }
}
