import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNumber, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import { IsBoundedJsonObject } from '../../core/http/json-field';
import { IsMultilineText, IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import { SENTIMENT_CODES } from '../analysis.lookups';
import { AnalysisResultEntity, Sentiment } from '../entities/analysis-result.entity';

/** SPEC "Limits that apply everywhere": analysis details are at most 256 KiB as JSON. */
export const MAX_DETAILS_BYTES = 256 * 1024;

export class CreateAnalysisDto {
  @ApiPropertyOptional({ example: 'The caller reports a break-in and asks for a callback.' })
  @IsOmittable()
  @IsString()
  @MaxLength(100_000)
  @IsMultilineText()
  summary?: string;

  @ApiPropertyOptional({ enum: SENTIMENT_CODES, description: 'Lookup `sentiments`' })
  @IsOmittable()
  @IsIn(SENTIMENT_CODES)
  sentiment?: Sentiment;

  @ApiPropertyOptional({ minimum: -1, maximum: 1, example: -0.4 })
  @IsOmittable()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-1)
  @Max(1)
  sentimentScore?: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Engine-specific results (topics, entities, …); a JSON object ≤ 256 KiB',
  })
  @IsOmittable()
  @IsBoundedJsonObject({ maxBytes: MAX_DETAILS_BYTES })
  details?: Record<string, unknown>;

  @ApiProperty({ example: 'sentiment-v2' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  engine!: string;
}

export class AnalysisResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) audioFileId!: string;
  @ApiProperty({ format: 'uuid' }) transcriptionId!: string;
  @ApiProperty({ description: 'The transcription version this analysis read' })
  transcriptionVersion!: number;
  @ApiProperty({ description: 'Per audio file' }) version!: number;
  @ApiProperty() summary!: string;
  @ApiProperty({ enum: SENTIMENT_CODES, nullable: true, type: String })
  sentiment!: Sentiment | null;
  @ApiProperty({ nullable: true, type: Number }) sentimentScore!: number | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: Record<string, unknown>;
  @ApiProperty() engine!: string;
  @ApiProperty({ description: 'A newer transcription version exists than the one read' })
  stale!: boolean;
  @ApiProperty({ format: 'uuid' }) createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;

  static from(entity: AnalysisResultEntity, latestTranscriptionVersion: number): AnalysisResponse {
    return {
      id: entity.id,
      audioFileId: entity.audioFileId,
      transcriptionId: entity.transcriptionId,
      transcriptionVersion: entity.transcriptionVersion,
      version: entity.version,
      summary: entity.summary,
      sentiment: entity.sentiment,
      sentimentScore: entity.sentimentScore,
      details: entity.details,
      engine: entity.engine,
      stale: latestTranscriptionVersion > entity.transcriptionVersion,
      createdBy: entity.createdBy,
      createdAt: entity.createdAt.toISOString(),
    };
  }
}
