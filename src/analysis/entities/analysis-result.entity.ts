import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
} from 'typeorm';
import { AudioFileEntity } from '../../audio-files/entities/audio-file.entity';
import { UserEntity } from '../../auth/entities/user.entity';
import { TranscriptionEntity } from '../../transcriptions/entities/transcription.entity';
import { SentimentEntity } from './sentiment.entity';

export type Sentiment = 'positive' | 'neutral' | 'negative' | 'mixed';

/**
 * One version of the analysis of an audio file, made from one transcription version
 * (`transcriptionVersion`, kept so a reader knows what it read). Versions count per
 * audio file; rows are never changed.
 */
@Entity('analysis_results')
@Unique('analysis_results_audio_version_key', ['audioFileId', 'version'])
@Index('analysis_results_transcription_idx', ['transcriptionId', 'version'])
@Check('analysis_results_version_check', `version >= 1`)
@Check('analysis_results_details_object_check', `jsonb_typeof(details) = 'object'`)
@Check(
  'analysis_results_sentiment_score_check',
  `sentiment_score IS NULL OR (sentiment_score >= -1 AND sentiment_score <= 1)`,
)
export class AnalysisResultEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  audioFileId!: string;

  @ManyToOne(() => AudioFileEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'audio_file_id' })
  audioFile?: AudioFileEntity;

  @Column({ type: 'uuid' })
  transcriptionId!: string;

  @ManyToOne(() => TranscriptionEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'transcription_id' })
  transcription?: TranscriptionEntity;

  /** The version of the transcription this analysis read. */
  @Column({ type: 'integer' })
  transcriptionVersion!: number;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ type: 'text', default: '' })
  summary!: string;

  @Column({ type: 'varchar', length: 32, nullable: true })
  sentiment!: Sentiment | null;

  @ManyToOne(() => SentimentEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'sentiment', referencedColumnName: 'code' })
  sentimentRef?: SentimentEntity;

  @Column({ type: 'double precision', nullable: true })
  sentimentScore!: number | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: Record<string, unknown>;

  @Column({ type: 'varchar', length: 200 })
  engine!: string;

  @Column({ type: 'uuid' })
  createdBy!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'created_by' })
  creator?: UserEntity;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
