import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Lookup `audio_statuses`: uploaded, queued, processing, processed, failed. */
@Entity('audio_statuses')
export class AudioStatusEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  code!: string;

  @Column({ type: 'text' })
  description!: string;
}
