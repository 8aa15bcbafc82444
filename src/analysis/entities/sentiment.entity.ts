import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Lookup `sentiments`: positive, neutral, negative, mixed. */
@Entity('sentiments')
export class SentimentEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  code!: string;

  @Column({ type: 'text' })
  description!: string;
}
