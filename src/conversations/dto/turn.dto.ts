import { Param, PipeTransform } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ValidationProblem } from '../../core/http/problem.exception';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDateString,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  ValidateNested,
  ValidationOptions,
  buildMessage,
} from 'class-validator';
import { IsMultilineText, IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import type { CleaningLevel } from '../entities/turn.entity';
import type { ConfidenceLevel } from '../turns/turn-record';

/**
 * ISO 8601 admits forms JavaScript's Date cannot read (week dates such as `2024-W01-1`,
 * the basic format `20240101T000000Z`) and offsets that carry a year-9999 instant into
 * year 10000, which Postgres will not take in the form `toISOString()` writes. Either
 * would pass `IsDateString` and then fail: at once (500) or, worse, in the persistence
 * worker after the 202. So the instant must be readable and fall in years 1-9999 UTC
 * (IsDateString's strict mode already refuses years before 100).
 */
export function IsStorableTimestamp(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStorableTimestamp',
      validator: {
        validate: (value: unknown): boolean => {
          if (typeof value !== 'string') return false;
          const ms = Date.parse(value);
          if (!Number.isFinite(ms)) return false;
          const year = new Date(ms).getUTCFullYear();
          return year >= 1 && year <= 9999;
        },
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a readable date-time between years 1 and 9999`,
        ),
      },
    },
    options,
  );
}

export const CONFIDENCE_LEVELS: readonly ConfidenceLevel[] = ['HIGH', 'MEDIUM', 'LOW'];

/** A correction's confidence: a finite number 0..1, or a level name. */
export function IsCorrectionConfidence(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCorrectionConfidence',
      validator: {
        validate: (value: unknown): boolean =>
          (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1) ||
          (typeof value === 'string' && (CONFIDENCE_LEVELS as readonly string[]).includes(value)),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be a number from 0 to 1, or HIGH, MEDIUM or LOW`,
        ),
      },
    },
    options,
  );
}

/** The duplicate detector keeps one bit per messageNumber, so numbers are bounded. */
export const MAX_MESSAGE_NUMBER = 10_000_000;
export const MAX_TURNS_PER_REQUEST = 1000;

class MessageNumberPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    const n = /^\d{1,8}$/.test(value) ? Number(value) : NaN;
    if (!(n >= 1 && n <= MAX_MESSAGE_NUMBER)) {
      throw new ValidationProblem([
        {
          field: 'messageNumber',
          message: `messageNumber must be an integer from 1 to ${MAX_MESSAGE_NUMBER}`,
        },
      ]);
    }
    return n;
  }
}

/** The `:messageNumber` route parameter (400 problem+json unless 1..MAX_MESSAGE_NUMBER). */
export const MessageNumberParam = (): ParameterDecorator =>
  Param('messageNumber', new MessageNumberPipe());

export class TextPositionDto {
  @ApiProperty()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  start!: number;

  @ApiProperty()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  end!: number;
}

export class CorrectionDto {
  @ApiProperty()
  @IsString()
  @MaxLength(2000)
  @IsMultilineText()
  original!: string;

  @ApiProperty()
  @IsString()
  @MaxLength(2000)
  @IsMultilineText()
  corrected!: string;

  @ApiProperty({
    oneOf: [
      { type: 'number', minimum: 0, maximum: 1 },
      { type: 'string', enum: [...CONFIDENCE_LEVELS] },
    ],
    description: 'A number 0..1, or HIGH / MEDIUM / LOW as seed engines send it',
  })
  @IsCorrectionConfidence()
  confidence!: number | ConfidenceLevel;

  @ApiProperty()
  @IsString()
  @MaxLength(500)
  @IsPrintableText()
  reason!: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  contextRelevance?: string;

  @ApiProperty({ type: TextPositionDto })
  // ValidateNested skips a missing value, so without this a correction with no position
  // passed validation and failed (500) where the turn is built.
  @IsObject()
  @ValidateNested()
  @Type(() => TextPositionDto)
  position!: TextPositionDto;
}

export class TurnDto {
  @ApiProperty({
    minimum: 1,
    maximum: MAX_MESSAGE_NUMBER,
    description: 'Idempotency key within the conversation',
  })
  @IsInt()
  @Min(1)
  @Max(MAX_MESSAGE_NUMBER)
  messageNumber!: number;

  @ApiProperty({ example: 'Speaker_0' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @IsPrintableText()
  speaker!: string;

  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(10_000)
  @IsMultilineText()
  rawText!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  @IsMultilineText()
  cleanedText?: string;

  @ApiProperty({ format: 'date-time' })
  @IsDateString({ strict: true })
  @IsStorableTimestamp()
  spokenAt!: string;

  @ApiProperty({ minimum: 0, maximum: 1 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  confidence!: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  cleaningApplied?: boolean;

  @ApiPropertyOptional({ enum: ['none', 'light', 'full'] })
  @IsOptional()
  @IsIn(['none', 'light', 'full'])
  cleaningLevel?: CleaningLevel;

  @ApiPropertyOptional({ type: [CorrectionDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  // ValidateNested alone lets an element that is an array through (it validates the
  // inner array's items instead, none for `[]`): `[[]]` would pass and crash later.
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => CorrectionDto)
  corrections?: CorrectionDto[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  contextDetected?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  businessDomain?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  conversationFlow?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  aiModelUsed?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  transcriptionErrorDetected?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  processingTimeMs?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  slidingWindowSize?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  contextTurnsUsed?: number;

  @ApiPropertyOptional({ description: "The cleaning engine's request id, for tracing" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  engineRequestId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  websocketLatencyMs?: number;
}

/**
 * PATCH of a turn: only the cleaning fields. The raw fields (`rawText`, `speaker`,
 * `spokenAt`, `messageNumber`) are unknown here, so sending one is 400. Fields a turn may
 * have empty accept `null` (clear it); the others may be left out but not sent as null.
 */
export class ReviseTurnDto {
  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  @IsMultilineText()
  cleanedText?: string | null;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsBoolean()
  cleaningApplied?: boolean;

  @ApiPropertyOptional({ enum: ['none', 'light', 'full'] })
  @IsOmittable()
  @IsIn(['none', 'light', 'full'])
  cleaningLevel?: CleaningLevel;

  @ApiPropertyOptional({ type: [CorrectionDto] })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(100)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => CorrectionDto)
  corrections?: CorrectionDto[];

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  contextDetected?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  businessDomain?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  conversationFlow?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  aiModelUsed?: string | null;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsBoolean()
  transcriptionErrorDetected?: boolean;

  @ApiPropertyOptional({ nullable: true, type: Number })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  processingTimeMs?: number | null;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @IsPrintableText()
  engineRequestId?: string | null;

  @ApiPropertyOptional({ nullable: true, type: Number })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  websocketLatencyMs?: number | null;
}

export class TurnRevisionResponse {
  @ApiProperty() revision!: number;
  @ApiProperty({ nullable: true, type: String }) changedBy!: string | null;
  @ApiProperty() changedAt!: string;
  @ApiProperty({ type: Object, description: 'The fields this revision set' })
  changes!: Record<string, unknown>;
}

export class TurnBatchDto {
  @ApiProperty({ type: [TurnDto], maxItems: MAX_TURNS_PER_REQUEST })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_TURNS_PER_REQUEST)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => TurnDto)
  turns!: TurnDto[];
}

export class IngestResponse {
  @ApiProperty() accepted!: number;
  @ApiProperty({ description: 'messageNumbers already accepted earlier; nothing was stored twice' })
  duplicates!: number;
}

export class TurnResponse {
  @ApiProperty({ nullable: true, type: String, description: 'null until persisted' }) id!:
    string | null;
  @ApiProperty() conversationId!: string;
  @ApiProperty() messageNumber!: number;
  @ApiProperty() speaker!: string;
  @ApiProperty() rawText!: string;
  @ApiProperty({ nullable: true, type: String }) cleanedText!: string | null;
  @ApiProperty() spokenAt!: string;
  @ApiProperty() confidence!: number;
  @ApiProperty({ enum: ['HIGH', 'MEDIUM', 'LOW'] }) confidenceLevel!: string;
  @ApiProperty() cleaningApplied!: boolean;
  @ApiProperty({ enum: ['none', 'light', 'full'] }) cleaningLevel!: string;
  @ApiProperty({ type: [CorrectionDto] }) corrections!: CorrectionDto[];
  @ApiProperty({ nullable: true, type: String }) contextDetected!: string | null;
  @ApiProperty({ nullable: true, type: String }) businessDomain!: string | null;
  @ApiProperty({ nullable: true, type: String }) conversationFlow!: string | null;
  @ApiProperty({ nullable: true, type: String }) aiModelUsed!: string | null;
  @ApiProperty() transcriptionErrorDetected!: boolean;
  @ApiProperty({ nullable: true, type: Number }) processingTimeMs!: number | null;
  @ApiProperty({ nullable: true, type: Number }) slidingWindowSize!: number | null;
  @ApiProperty({ nullable: true, type: Number }) contextTurnsUsed!: number | null;
  @ApiProperty({ nullable: true, type: String }) engineRequestId!: string | null;
  @ApiProperty({ nullable: true, type: Number }) websocketLatencyMs!: number | null;
  @ApiProperty({ description: '1 for the turn as posted, +1 per revision' }) revision!: number;
  @ApiProperty({ description: 'When the latest revision was made (receivedAt before any)' })
  updatedAt!: string;
  @ApiProperty() receivedAt!: string;
  @ApiProperty({ nullable: true, type: String }) persistedAt!: string | null;
  @ApiProperty({ nullable: true, type: Number }) queueTimeMs!: number | null;
}
