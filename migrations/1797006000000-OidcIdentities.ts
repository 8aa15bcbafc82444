import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * OpenID Connect identities (SPEC section 13): a user signed in through the provider is
 * found by (issuer, subject), never by e-mail or name, which a provider may reassign.
 * Deleting a user removes its identities.
 */
export class OidcIdentities1797006000000 implements MigrationInterface {
  name = 'OidcIdentities1797006000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "user_identities" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "issuer" character varying(2048) NOT NULL, "subject" character varying(255) NOT NULL, "linked_by" character varying(16) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_login_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_e23bff04e9c3e7b785e442b262c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_bf5fe01eb8cad7114b4c371cdc" ON "user_identities" ("user_id") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_30e43d5623aba16f806fc50cb9" ON "user_identities" ("issuer", "subject") `,
    );
    await queryRunner.query(
      `ALTER TABLE "user_identities" ADD CONSTRAINT "FK_bf5fe01eb8cad7114b4c371cdc7" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "user_identities" DROP CONSTRAINT "FK_bf5fe01eb8cad7114b4c371cdc7"`,
    );
    await queryRunner.query(`DROP INDEX "public"."IDX_30e43d5623aba16f806fc50cb9"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_bf5fe01eb8cad7114b4c371cdc"`);
    await queryRunner.query(`DROP TABLE "user_identities"`);
  }
}
