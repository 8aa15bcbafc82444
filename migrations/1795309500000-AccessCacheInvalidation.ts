import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every API process caches who a token belongs to and who takes part in a case or a
 * conversation (src/core/cache). These triggers tell all of them, through NOTIFY on
 * `verbatim_cache`, when that data changes — whichever code path, CLI or replica changed
 * it. NOTIFY is transactional: listeners hear of a change only once it is committed.
 *
 * Payloads are tags: `user:<id>`, `case:<id>`, `conversation:<id>`, or `*` (roles changed:
 * every principal's grants may differ).
 */
const TRIGGERS: { table: string; name: string; events: string; tag: string }[] = [
  {
    table: 'users',
    name: 'users_cache_invalidation',
    // Not last_login_at and the like: only what a principal is made of.
    events: 'UPDATE OF is_active, token_version, role, username OR DELETE',
    tag: 'user:id',
  },
  {
    table: 'roles',
    name: 'roles_cache_invalidation',
    events: 'INSERT OR UPDATE OR DELETE',
    tag: '*',
  },
  {
    table: 'refresh_tokens',
    name: 'refresh_tokens_cache_invalidation',
    events: 'UPDATE OF revoked_at OR DELETE',
    tag: 'user:user_id',
  },
  {
    table: 'cases',
    name: 'cases_cache_invalidation',
    events: 'UPDATE OF deleted_at OR DELETE',
    tag: 'case:id',
  },
  {
    table: 'case_participants',
    name: 'case_participants_cache_invalidation',
    events: 'INSERT OR UPDATE OR DELETE',
    tag: 'case:case_id',
  },
  {
    table: 'conversations',
    name: 'conversations_cache_invalidation',
    // Not the counters the persistence worker updates on every flush.
    events: 'UPDATE OF status, case_id OR DELETE',
    tag: 'conversation:id',
  },
  {
    table: 'conversation_participants',
    name: 'conversation_participants_cache_invalidation',
    events: 'INSERT OR UPDATE OR DELETE',
    tag: 'conversation:conversation_id',
  },
];

export class AccessCacheInvalidation1795309500000 implements MigrationInterface {
  name = 'AccessCacheInvalidation1795309500000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // TG_ARGV[0] is the tag kind ('*' alone, or e.g. 'case'), TG_ARGV[1] the id column.
    await queryRunner.query(`
      CREATE FUNCTION notify_cache_invalidation() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        row_data jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
      BEGIN
        IF TG_ARGV[0] = '*' THEN
          PERFORM pg_notify('verbatim_cache', '*');
        ELSE
          PERFORM pg_notify('verbatim_cache', TG_ARGV[0] || ':' || (row_data ->> TG_ARGV[1]));
        END IF;
        RETURN NULL;
      END
      $$`);
    for (const trigger of TRIGGERS) {
      const [kind, column] = trigger.tag === '*' ? ['*', ''] : trigger.tag.split(':');
      await queryRunner.query(
        `CREATE TRIGGER ${trigger.name} AFTER ${trigger.events} ON "${trigger.table}" FOR EACH ROW EXECUTE FUNCTION notify_cache_invalidation('${kind}', '${column}')`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const trigger of TRIGGERS) {
      await queryRunner.query(`DROP TRIGGER ${trigger.name} ON "${trigger.table}"`);
    }
    await queryRunner.query(`DROP FUNCTION notify_cache_invalidation()`);
  }
}
