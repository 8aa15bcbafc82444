import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsDateString,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';
import { IsBoundedJsonObject } from '../../core/http/json-field';
import { CursorQuery, PageQuery } from '../../core/http/pagination';
import { IsMultilineText, IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import {
  CONVERSATION_ROLES,
  ConversationParticipantEntity,
  ConversationRole,
} from '../entities/conversation-participant.entity';
import {
  ConversationEndedReason,
  ConversationEntity,
  ConversationStatus,
} from '../entities/conversation.entity';
import { IsStorableTimestamp, MAX_MESSAGE_NUMBER } from './turn.dto';

/** SPEC "Limits that apply everywhere": conversation metadata is at most 64 KiB as JSON. */
export const MAX_METADATA_BYTES = 64 * 1024;

export class CreateConversationDto {
  @ApiProperty({
    example: 'Hearing 2026-11-22 room 3',
    description: 'Unique among active conversations',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  name!: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(5000)
  @IsMultilineText()
  description?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOmittable()
  @IsUUID()
  caseId?: string;

  @ApiPropertyOptional({
    type: Object,
    description: 'Business context and processing settings; at most 64 KiB as JSON, 16 levels deep',
  })
  @IsOmittable()
  @IsBoundedJsonObject({ maxBytes: MAX_METADATA_BYTES })
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({
    writeOnly: true,
    minLength: 8,
    description: 'Lets a team join by name and password',
  })
  @IsOmittable()
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  joinPassword?: string;
}

export class UpdateConversationDto {
  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  name?: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(5000)
  @IsMultilineText()
  description?: string;

  @ApiPropertyOptional({ type: Object, description: 'At most 64 KiB as JSON, 16 levels deep' })
  @IsOmittable()
  @IsBoundedJsonObject({ maxBytes: MAX_METADATA_BYTES })
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({
    writeOnly: true,
    minLength: 8,
    nullable: true,
    type: String,
    description:
      'A new join password (stored hashed), or null to stop joining by password. Owners only.',
  })
  // null is a value here (remove the password): IsOptional lets null and undefined through.
  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  joinPassword?: string | null;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    type: String,
    description:
      'Links the conversation to a case the caller may add to (lead or member, or cases:all), or null to unlink. Owners only.',
  })
  @IsOptional()
  @IsUUID()
  caseId?: string | null;
}

export class AddConversationParticipantDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  userId!: string;

  @ApiProperty({ enum: CONVERSATION_ROLES })
  @IsIn(CONVERSATION_ROLES)
  role!: ConversationRole;
}

export class UpdateConversationParticipantDto {
  @ApiProperty({ enum: CONVERSATION_ROLES })
  @IsIn(CONVERSATION_ROLES)
  role!: ConversationRole;
}

export class ConversationParticipantResponse {
  @ApiProperty({ format: 'uuid' }) userId!: string;
  @ApiProperty({ enum: CONVERSATION_ROLES }) role!: ConversationRole;
  @ApiProperty({
    enum: ['creator', 'invite', 'join'],
    description:
      'How they came to take part: created it, added by a manager, or joined by password',
  })
  via!: 'creator' | 'invite' | 'join';
  @ApiProperty({ format: 'date-time' }) joinedAt!: string;

  static from(entity: ConversationParticipantEntity): ConversationParticipantResponse {
    return {
      userId: entity.userId,
      role: entity.role,
      via: entity.via,
      joinedAt: entity.joinedAt.toISOString(),
    };
  }
}

export class JoinConversationDto {
  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  name!: string;

  @ApiProperty({ writeOnly: true })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  password!: string;
}

export class ListConversationsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['active', 'archived'] })
  @IsOptional()
  @IsIn(['active', 'archived'])
  status?: ConversationStatus;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  caseId?: string;
}

/** The turn stream's cursor is a messageNumber, so `after` is narrower than an id. */
export class TurnCursorQuery extends CursorQuery {
  @ApiPropertyOptional({ description: 'Return turns after this messageNumber', example: '0' })
  @IsOptional()
  @Matches(/^\d{1,9}$/, { message: 'after must be a messageNumber' })
  override after?: string = undefined;
}

/** The turn list's filters (SPEC section 10): AND-combined, the cursor still applies. */
export class TurnListQuery extends TurnCursorQuery {
  @ApiPropertyOptional({ description: 'Exact speaker' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @IsPrintableText()
  speaker?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  businessDomain?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  contextDetected?: string;

  @ApiPropertyOptional({ enum: ['HIGH', 'MEDIUM', 'LOW'] })
  @IsOptional()
  @IsIn(['HIGH', 'MEDIUM', 'LOW'])
  confidenceLevel?: 'HIGH' | 'MEDIUM' | 'LOW';

  @ApiPropertyOptional({ enum: ['none', 'light', 'full'] })
  @IsOptional()
  @IsIn(['none', 'light', 'full'])
  cleaningLevel?: 'none' | 'light' | 'full';

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'cleaningApplied' })
  @IsOptional()
  @IsIn(['true', 'false'])
  cleaned?: 'true' | 'false';

  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'transcriptionErrorDetected' })
  @IsOptional()
  @IsIn(['true', 'false'])
  errors?: 'true' | 'false';

  @ApiPropertyOptional({ format: 'date-time', description: 'spokenAt at or after' })
  @IsOptional()
  @IsDateString({ strict: true })
  @IsStorableTimestamp()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'spokenAt before' })
  @IsOptional()
  @IsDateString({ strict: true })
  @IsStorableTimestamp()
  to?: string;
}

export class RecentQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 1440, default: 5 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1440)
  minutes = 5;
}

export class WindowQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  size = 20;

  @ApiPropertyOptional({
    description: 'messageNumber the window ends before; latest when omitted',
    maximum: MAX_MESSAGE_NUMBER + 1,
  })
  @IsOptional()
  @ValidateIf((_, v) => v !== undefined)
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_MESSAGE_NUMBER + 1)
  before?: number;
}

export class ConversationResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) caseId!: string | null;
  @ApiProperty({ enum: ['active', 'archived', 'deleted'] }) status!: ConversationStatus;
  @ApiProperty({ type: Object }) metadata!: Record<string, unknown>;
  @ApiProperty() hasJoinPassword!: boolean;
  @ApiProperty() turnsCount!: number;
  @ApiProperty() totalProcessingTimeMs!: number;
  @ApiProperty({ nullable: true, type: Number }) averageConfidence!: number | null;
  @ApiProperty({ nullable: true, type: String }) lastActivityAt!: string | null;
  @ApiProperty({ format: 'uuid' }) createdBy!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
  @ApiProperty({ nullable: true, type: String }) endedAt!: string | null;
  @ApiProperty({
    enum: ['request', 'idle'],
    nullable: true,
    type: String,
    description:
      'Why it ended: a client asked (POST …/end) or no turn came for CONVERSATION_IDLE_MINUTES',
  })
  endedReason!: ConversationEndedReason | null;
  @ApiProperty({ nullable: true, type: String }) sealHash!: string | null;
  @ApiProperty({ nullable: true, type: String }) sealedAt!: string | null;
  @ApiProperty() version!: number;

  /** `entity` must have been loaded with its joinPasswordHash (the repository's reads are). */
  static from(entity: ConversationEntity): ConversationResponse {
    const turns = Number(entity.turnsCount);
    return {
      id: entity.id,
      name: entity.name,
      description: entity.description,
      caseId: entity.caseId,
      status: entity.status,
      metadata: entity.metadata,
      hasJoinPassword: entity.joinPasswordHash !== null && entity.joinPasswordHash !== undefined,
      turnsCount: turns,
      totalProcessingTimeMs: Number(entity.totalProcessingTimeMs),
      averageConfidence: turns > 0 ? entity.confidenceSum / turns : null,
      lastActivityAt: entity.lastActivityAt?.toISOString() ?? null,
      createdBy: entity.createdBy,
      createdAt: entity.createdAt.toISOString(),
      updatedAt: entity.updatedAt.toISOString(),
      endedAt: entity.endedAt?.toISOString() ?? null,
      endedReason: entity.endedReason,
      sealHash: entity.sealHash,
      sealedAt: entity.sealedAt?.toISOString() ?? null,
      version: entity.version,
    };
  }
}

export class ConversationParticipantListResponse {
  @ApiProperty({ type: [ConversationParticipantResponse] })
  data!: ConversationParticipantResponse[];
}

export class VerifyResponse {
  @ApiProperty() valid!: boolean;
  @ApiProperty({ nullable: true, type: String }) sealHash!: string | null;
  @ApiProperty() computedHash!: string;
  @ApiProperty() turns!: number;
}

export class ContextStatsResponse {
  @ApiProperty({ nullable: true, type: String, example: 'contract-negotiation' })
  value!: string | null;
  @ApiProperty({ example: 12 }) turns!: number;
  @ApiProperty({ nullable: true, type: Number, example: 84.5 })
  averageProcessingTimeMs!: number | null;
  @ApiProperty({ example: 9, description: 'Turns with confidence ≥ 0.85 (HIGH)' })
  highConfidenceTurns!: number;
}

/**
 * Figures over the persisted turns, each as its latest persisted revision made it; turns
 * and revisions still in the Redis buffer join them once persisted (`buffered` counts
 * the turns waiting).
 */
export class StatsResponse {
  @ApiProperty() turns!: number;
  @ApiProperty({ description: 'Accepted turns not yet persisted (not in the other figures)' })
  buffered!: number;
  @ApiProperty({ example: 40, description: 'Turns whose latest revision has cleaningApplied' })
  turnsCleaned!: number;
  @ApiProperty({ example: 2, description: 'Turns with transcriptionErrorDetected' })
  errorsFiltered!: number;
  @ApiProperty({
    nullable: true,
    type: Number,
    example: 35.2,
    description: 'Mean websocketLatencyMs of the turns that have one; null when none has',
  })
  averageLatencyMs!: number | null;
  @ApiProperty() speakers!: { speaker: string; turns: number }[];
  @ApiProperty({ nullable: true, type: Number }) averageProcessingTimeMs!: number | null;
  @ApiProperty({ nullable: true, type: Number }) averageQueueTimeMs!: number | null;
  @ApiProperty({ description: 'Percentages of turns per confidence level' })
  confidenceDistribution!: { HIGH: number; MEDIUM: number; LOW: number };
  @ApiProperty({ type: [ContextStatsResponse] }) contexts!: ContextStatsResponse[];
  @ApiProperty() domains!: { value: string | null; turns: number }[];
  @ApiProperty() turnsPerHour!: { hour: string; turns: number }[];
  @ApiProperty({
    description: 'Missing messageNumber ranges, inclusive, up to the highest accepted',
  })
  gaps!: { from: number; to: number }[];
}
