import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsIn,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { PageQuery } from '../../core/http/pagination';
import { IsMultilineText, IsPrintableText } from '../../core/http/validation-patterns';
import { AUDIO_STATUS_CODES, AudioFileEntity, AudioStatus } from '../entities/audio-file.entity';

export const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;

export const AUDIO_SORTS = ['createdAt', '-createdAt'] as const;

export class ListAudioQuery extends PageQuery {
  @ApiPropertyOptional({ enum: AUDIO_STATUS_CODES })
  @IsOptional()
  @IsIn(AUDIO_STATUS_CODES)
  status?: AudioStatus;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  caseId?: string;

  @ApiPropertyOptional({ example: 'en' })
  @IsOptional()
  @Matches(LANGUAGE_TAG, { message: 'language must be a language tag such as en or pt-BR' })
  language?: string;

  @ApiPropertyOptional({ format: 'uuid', description: "Only this user's uploads" })
  @IsOptional()
  @IsUUID()
  uploadedBy?: string;

  @ApiPropertyOptional({
    enum: AUDIO_SORTS,
    default: 'createdAt',
    description:
      'Creation order: `createdAt` oldest first (the work queue), `-createdAt` newest first',
  })
  @IsOptional()
  @IsIn(AUDIO_SORTS)
  sort?: (typeof AUDIO_SORTS)[number];
}

/** The case-scoped list: the case comes from the path. */
export class ListCaseAudioQuery extends PageQuery {
  @ApiPropertyOptional({ enum: AUDIO_STATUS_CODES })
  @IsOptional()
  @IsIn(AUDIO_STATUS_CODES)
  status?: AudioStatus;
}

export class ArchiveAudioDto {
  @ApiProperty({ example: 'Case concluded' })
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @IsPrintableText()
  reason!: string;
}

export class FailAudioDto {
  @ApiProperty({ example: 'Decoder error: unsupported sample rate' })
  @IsString()
  @MinLength(1)
  @MaxLength(4000)
  @IsMultilineText()
  error!: string;
}

/** POST /audio/:id/progress: how far the claimant got. */
export class AudioProgressDto {
  @ApiProperty({ minimum: 0, maximum: 100, example: 42 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(100)
  percent!: number;

  @ApiPropertyOptional({ example: 'diarization', maxLength: 64 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @IsPrintableText()
  stage?: string;
}

export class AudioProgressResponse {
  @ApiProperty({ minimum: 0, maximum: 100 }) percent!: number;
  @ApiProperty({ nullable: true, type: String }) stage!: string | null;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

/** Multipart form of POST /cases/:id/audio, for the OpenAPI document. */
export class UploadAudioForm {
  @ApiProperty({ type: 'string', format: 'binary', description: 'The audio file; sent last' })
  file!: unknown;

  @ApiPropertyOptional({ example: 'en', description: 'Spoken language; must precede `file`' })
  language?: string;
}

export class JobAcceptedResponse {
  @ApiProperty({ example: 'archive.4f0c…v2' }) jobId!: string;
}

export class AudioFileResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) caseId!: string;
  @ApiProperty() originalName!: string;
  @ApiProperty({ example: 'audio/wav' }) mimeType!: string;
  @ApiProperty() sizeBytes!: number;
  @ApiProperty({ nullable: true, type: Number }) durationSeconds!: number | null;
  @ApiProperty({ example: 'e3b0c442…' }) sha256!: string;
  @ApiProperty({ enum: AUDIO_STATUS_CODES }) status!: AudioStatus;
  @ApiProperty({ nullable: true, type: String }) language!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) processedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) errorMessage!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) claimedBy!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) claimedAt!: string | null;
  @ApiProperty({
    type: AudioProgressResponse,
    nullable: true,
    description: "The claimant's last progress report; null without a claim or report",
  })
  progress!: AudioProgressResponse | null;
  @ApiProperty({ enum: ['local', 's3'] }) storageType!: 'local' | 's3';
  @ApiProperty({ example: 'cases/…/….wav' }) storageKey!: string;
  @ApiProperty() isArchived!: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) archivedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) archiveReason!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) verifiedAt!: string | null;
  @ApiProperty({ format: 'uuid' }) uploadedBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) deletedAt!: string | null;

  static from(entity: AudioFileEntity): AudioFileResponse {
    return {
      id: entity.id,
      caseId: entity.caseId,
      originalName: entity.originalName,
      mimeType: entity.mimeType,
      sizeBytes: Number(entity.sizeBytes),
      durationSeconds: entity.durationSeconds,
      sha256: entity.sha256,
      status: entity.status,
      language: entity.language,
      processedAt: entity.processedAt?.toISOString() ?? null,
      errorMessage: entity.errorMessage,
      claimedBy: entity.claimedBy,
      claimedAt: entity.claimedAt?.toISOString() ?? null,
      progress:
        entity.progressPercent !== null && entity.progressAt
          ? {
              percent: entity.progressPercent,
              stage: entity.progressStage,
              updatedAt: entity.progressAt.toISOString(),
            }
          : null,
      storageType: entity.storageType,
      storageKey: entity.storageKey,
      isArchived: entity.isArchived,
      archivedAt: entity.archivedAt?.toISOString() ?? null,
      archiveReason: entity.archiveReason,
      verifiedAt: entity.verifiedAt?.toISOString() ?? null,
      uploadedBy: entity.uploadedBy,
      createdAt: entity.createdAt.toISOString(),
      deletedAt: entity.deletedAt?.toISOString() ?? null,
    };
  }
}
