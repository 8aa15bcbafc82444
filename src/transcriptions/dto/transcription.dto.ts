import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { LANGUAGE_TAG } from '../../audio-files/dto/audio-file.dto';
import { IsMultilineText, IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import { TranscriptionEntity, TranscriptSegment } from '../entities/transcription.entity';
import { EXPORT_FORMATS, ExportFormat } from '../transcript-export';

/** 100 hours: far beyond any real recording, small enough for exact millisecond maths. */
const MAX_SECONDS = 360_000;
export const MAX_SEGMENTS = 50_000;
export const MAX_CONTENT_CHARS = 500_000;
const FINITE = { allowNaN: false, allowInfinity: false };

export class TranscriptSegmentDto {
  @ApiProperty({ example: 62.345, description: 'Seconds from the start of the audio' })
  @IsNumber(FINITE)
  @Min(0)
  @Max(MAX_SECONDS)
  start!: number;

  @ApiProperty({ example: 64, description: 'Seconds; greater than start' })
  @IsNumber(FINITE)
  @Min(0)
  @Max(MAX_SECONDS)
  end!: number;

  @ApiPropertyOptional({ example: 'Speaker_0', nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @IsPrintableText()
  speaker?: string | null;

  @ApiProperty({ example: 'Good morning.' })
  @IsString()
  @MaxLength(10_000)
  @IsMultilineText()
  text!: string;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, nullable: true, type: Number })
  @IsOptional()
  @IsNumber(FINITE)
  @Min(0)
  @Max(1)
  confidence?: number | null;
}

const withoutError = (dto: CreateTranscriptionDto): boolean => dto.error === undefined;

/**
 * A transcription from a processing engine, or `{ error }` when it could not make one
 * (the audio file is then marked failed, as with POST /audio/:id/fail).
 */
export class CreateTranscriptionDto {
  @ApiPropertyOptional({
    description: 'Report a failure instead of a transcription; nothing else may be sent',
    example: 'Decoder error: unsupported sample rate',
  })
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(4000)
  @IsMultilineText()
  error?: string;

  @ApiPropertyOptional({ type: [TranscriptSegmentDto], description: 'Ordered by start' })
  @ValidateIf(withoutError)
  @IsArray()
  @ArrayMaxSize(MAX_SEGMENTS)
  @ValidateNested({ each: true })
  @Type(() => TranscriptSegmentDto)
  segments?: TranscriptSegmentDto[];

  @ApiPropertyOptional({ example: 'whisper-large-v3' })
  @ValidateIf(withoutError)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  engine?: string;

  @ApiPropertyOptional({ description: 'Full text; the segments joined by line breaks when absent' })
  @IsOmittable()
  @IsString()
  @MaxLength(MAX_CONTENT_CHARS)
  @IsMultilineText()
  content?: string;

  @ApiPropertyOptional({ example: 'en', description: "Defaults to the audio file's language" })
  @IsOmittable()
  @Matches(LANGUAGE_TAG, { message: 'language must be a language tag such as en or pt-BR' })
  language?: string;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, description: 'Defaults to the segments’ mean' })
  @IsOmittable()
  @IsNumber(FINITE)
  @Min(0)
  @Max(1)
  confidence?: number;

  @ApiPropertyOptional({
    description: 'The version this one derives from; defaults to the latest',
    minimum: 1,
  })
  @IsOmittable()
  @IsInt()
  @Min(1)
  parentVersion?: number;

  @ApiPropertyOptional({
    description: 'sha256 of the bytes the engine transcribed; refused (409) if not the audio’s',
  })
  @IsOmittable()
  @Matches(/^[0-9a-f]{64}$/, { message: 'audioSha256 must be 64 lower-case hex digits' })
  audioSha256?: string;
}

export class ExportQuery {
  @ApiPropertyOptional({ enum: EXPORT_FORMATS, default: 'txt' })
  @IsOptional()
  @IsIn(EXPORT_FORMATS)
  format: ExportFormat = 'txt';
}

export class TranscriptSegmentResponse {
  @ApiProperty() start!: number;
  @ApiProperty() end!: number;
  @ApiProperty({ nullable: true, type: String }) speaker!: string | null;
  @ApiProperty() text!: string;
  @ApiProperty({ nullable: true, type: Number }) confidence!: number | null;
}

/** A version without its text: what lists return. */
export class TranscriptionSummaryResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) audioFileId!: string;
  @ApiProperty({ format: 'uuid' }) caseId!: string;
  @ApiProperty() version!: number;
  @ApiProperty({ nullable: true, type: Number }) parentVersion!: number | null;
  @ApiProperty({ description: 'sha256 of the audio it was made from' }) audioSha256!: string;
  @ApiProperty({ nullable: true, type: String }) language!: string | null;
  @ApiProperty() engine!: string;
  @ApiProperty({ nullable: true, type: Number }) confidence!: number | null;
  @ApiProperty() segmentCount!: number;
  @ApiProperty({ description: 'No newer version exists' }) isLatest!: boolean;
  @ApiProperty({ format: 'uuid' }) createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;

  static from(entity: TranscriptionEntity): TranscriptionSummaryResponse {
    return {
      id: entity.id,
      audioFileId: entity.audioFileId,
      caseId: entity.caseId,
      version: entity.version,
      parentVersion: entity.parentVersion,
      audioSha256: entity.audioSha256,
      language: entity.language,
      engine: entity.engine,
      confidence: entity.confidence,
      segmentCount: entity.segmentCount,
      isLatest: entity.isLatest,
      createdBy: entity.createdBy,
      createdAt: entity.createdAt.toISOString(),
    };
  }
}

export class TranscriptionResponse extends TranscriptionSummaryResponse {
  @ApiProperty() content!: string;
  @ApiProperty({ type: [TranscriptSegmentResponse] }) segments!: TranscriptSegment[];

  static override from(entity: TranscriptionEntity): TranscriptionResponse {
    return {
      ...TranscriptionSummaryResponse.from(entity),
      content: entity.content,
      segments: entity.segments,
    };
  }
}
