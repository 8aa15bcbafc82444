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
import { CaseEntity } from '../../cases/entities/case.entity';
import { LanguageEntity } from '../../cases/entities/lookups.entity';

/** One timed piece of a transcript, in seconds from the start of the audio. */
export interface TranscriptSegment {
  start: number;
  end: number;
  speaker: string | null;
  text: string;
  confidence: number | null;
}

/**
 * One version of the transcript of an audio file. Versions are immutable once written,
 * except `isLatest`, which moves to the newest version when one is added. Lineage: the
 * audio bytes it was made from (`audioSha256`) and the version it derives from.
 */
@Entity('transcriptions')
@Unique('transcriptions_audio_version_key', ['audioFileId', 'version'])
// Exactly one latest version per audio file.
@Index('transcriptions_audio_latest_key', ['audioFileId'], { unique: true, where: 'is_latest' })
@Index('transcriptions_case_idx', ['caseId'])
@Index('transcriptions_search_vector_idx', { synchronize: false })
@Check('transcriptions_version_check', `version >= 1`)
@Check('transcriptions_segments_array_check', `jsonb_typeof(segments) = 'array'`)
@Check(
  'transcriptions_parent_version_check',
  `parent_version IS NULL OR (parent_version >= 1 AND parent_version < version)`,
)
@Check(
  'transcriptions_confidence_check',
  `confidence IS NULL OR (confidence >= 0 AND confidence <= 1)`,
)
export class TranscriptionEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  audioFileId!: string;

  @ManyToOne(() => AudioFileEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'audio_file_id' })
  audioFile?: AudioFileEntity;

  /** The audio file's case (an audio file never changes case): visibility without a join. */
  @Column({ type: 'uuid' })
  caseId!: string;

  @ManyToOne(() => CaseEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'case_id' })
  case?: CaseEntity;

  @Column({ type: 'integer' })
  version!: number;

  /** The version this one was derived from: the latest at posting time, or the renamed one. */
  @Column({ type: 'integer', nullable: true })
  parentVersion!: number | null;

  /** sha256 of the audio bytes this transcript was made from. */
  @Column({ type: 'char', length: 64 })
  audioSha256!: string;

  @Column({ type: 'varchar', length: 16, nullable: true })
  language!: string | null;

  @ManyToOne(() => LanguageEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'language', referencedColumnName: 'code' })
  languageRef?: LanguageEntity;

  /** Text search configuration of the language (`simple` when unknown); set by a trigger. */
  @Column({ type: 'varchar', length: 32, default: 'simple', insert: false, update: false })
  searchConfig!: string;

  /** The full text. */
  @Column({ type: 'text' })
  content!: string;

  @Column({ type: 'jsonb' })
  segments!: TranscriptSegment[];

  @Column({ type: 'integer' })
  segmentCount!: number;

  @Column({ type: 'varchar', length: 200 })
  engine!: string;

  @Column({ type: 'double precision', nullable: true })
  confidence!: number | null;

  @Column({ type: 'boolean', default: true })
  isLatest!: boolean;

  @Column({ type: 'uuid' })
  createdBy!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'created_by' })
  creator?: UserEntity;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  /** `content` in the language's configuration; kept by a trigger, GIN-indexed (latest only). */
  @Column({ type: 'tsvector', nullable: true, select: false, insert: false, update: false })
  searchVector?: string | null;

  /** `content`'s English lexemes without positions, folded into the case's search vector. */
  @Column({ type: 'tsvector', nullable: true, select: false, insert: false, update: false })
  caseLexemes?: string | null;
}
