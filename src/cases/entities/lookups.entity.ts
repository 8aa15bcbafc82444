import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('case_statuses')
export class CaseStatusEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  code!: string;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'boolean', default: true })
  isActive!: boolean;
}

@Entity('case_priorities')
export class CasePriorityEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  code!: string;

  @Column({ type: 'text' })
  description!: string;

  /** Higher sorts first when ordering by priority. */
  @Column({ type: 'integer' })
  weight!: number;
}

@Entity('languages')
export class LanguageEntity {
  /** BCP 47 tag, e.g. `en`, `de`, `pt-BR`. */
  @PrimaryColumn({ type: 'varchar', length: 16 })
  code!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** Postgres text search configuration for this language (`simple` when none fits). */
  @Column({ type: 'varchar', length: 32, default: 'simple' })
  searchConfig!: string;
}
