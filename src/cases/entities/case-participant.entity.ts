import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';
import { CaseEntity } from './case.entity';

export type ParticipantRole = 'lead' | 'member' | 'viewer';

@Entity('case_participants')
@Check('case_participants_role_check', `role IN ('lead', 'member', 'viewer')`)
@Index(['userId', 'caseId'])
export class CaseParticipantEntity {
  @PrimaryColumn({ type: 'uuid' })
  caseId!: string;

  @PrimaryColumn({ type: 'uuid' })
  userId!: string;

  @ManyToOne(() => CaseEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'case_id' })
  case?: CaseEntity;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 16 })
  role!: ParticipantRole;

  @Column({ type: 'uuid', nullable: true })
  addedBy!: string | null;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  addedAt!: Date;
}
