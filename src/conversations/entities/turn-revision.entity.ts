import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One revision of a turn's cleaning fields: `changes` holds the fields it set (for
 * revision 1, the cleaning fields as posted). Written only by the turn-persistence
 * worker, idempotently by (conversation, messageNumber, revision); see README.
 */
@Entity('turn_revisions', { synchronize: false })
export class TurnRevisionEntity {
  @PrimaryColumn({ type: 'uuid' }) conversationId!: string;
  @PrimaryColumn({ type: 'integer' }) messageNumber!: number;
  @PrimaryColumn({ type: 'integer' }) revision!: number;
  @Column({ type: 'uuid', nullable: true }) changedBy!: string | null;
  @Column({ type: 'timestamptz' }) changedAt!: Date;
  @Column({ type: 'jsonb' }) changes!: Record<string, unknown>;
}
