import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A signed statement "the audit chain reached entry `lastId` (seq `lastSeq`, hash
 * `lastHash`) with `count` entries at `at`". The signature is made with a key that is not
 * in the database (SigningKeys), so rewriting or cutting the chain shows against it.
 */
@Entity('audit_checkpoints')
export class AuditCheckpointEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'bigint' })
  lastId!: string;

  @Column({ type: 'bigint' })
  lastSeq!: string;

  @Column({ type: 'varchar', length: 64 })
  lastHash!: string;

  @Column({ type: 'bigint' })
  count!: string;

  /** The instant signed, as `Date#toISOString` wrote it into the signed payload. */
  @Column({ type: 'timestamptz' })
  at!: Date;

  @Column({ type: 'varchar', length: 32 })
  keyId!: string;

  /** Base64 Ed25519 signature of the canonical JSON payload. */
  @Column({ type: 'text' })
  signature!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
