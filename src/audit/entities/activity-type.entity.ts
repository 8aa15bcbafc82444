import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Lookup of audit actions (`case.create`, `auth.login`, ...). */
@Entity('activity_types')
export class ActivityTypeEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  code!: string;

  @Column({ type: 'text' })
  description!: string;
}
