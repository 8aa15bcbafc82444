import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `webhooks:manage` is new; the built-in `admin` role holds it. The seeded admin role grants
 * `*`, which already covers it; an installation whose admin role lists permissions one by
 * one gets it added here. Data only (the DDL is in Webhooks1797003000000).
 */
export class WebhooksManageGrant1797003000001 implements MigrationInterface {
  name = 'WebhooksManageGrant1797003000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE roles SET permissions = permissions || '["webhooks:manage"]'::jsonb
        WHERE name = 'admin'
          AND NOT permissions ? '*' AND NOT permissions ? 'webhooks:*'
          AND NOT permissions ? 'webhooks:manage'`,
    );
  }

  /** Roles may not keep a grant the catalogue no longer has. */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE roles SET permissions = permissions - 'webhooks:manage' WHERE permissions ? 'webhooks:manage'`,
    );
  }
}
