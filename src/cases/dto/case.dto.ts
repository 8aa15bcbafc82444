import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsDateString,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { PageQuery } from '../../core/http/pagination';
import { IsMultilineText, IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import { CaseNoteEntity } from '../entities/case-note.entity';
import { CaseParticipantEntity, ParticipantRole } from '../entities/case-participant.entity';
import { CaseEntity, CasePriority, CaseStatus } from '../entities/case.entity';

const STATUSES: CaseStatus[] = ['active', 'pending', 'closed'];
const PRIORITIES: CasePriority[] = ['high', 'medium', 'low'];
const PARTICIPANT_ROLES: ParticipantRole[] = ['lead', 'member', 'viewer'];
export const CASE_SORTS = ['createdAt', 'updatedAt', 'priority', 'caseCode'] as const;

export class CreateCaseDto {
  @ApiPropertyOptional({ example: 'CASE-2026-000042', description: 'Generated when omitted' })
  @IsOmittable()
  @Matches(/^[A-Z0-9][A-Z0-9-]{2,31}$/, {
    message: 'caseCode must be 3-32 upper-case letters, digits or -',
  })
  caseCode?: string;

  @ApiProperty({ example: 'Interview with witness' })
  @IsString()
  @MinLength(1)
  @MaxLength(300)
  @IsPrintableText()
  title!: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(20_000)
  @IsMultilineText()
  description?: string;

  @ApiPropertyOptional({ enum: ['active', 'pending'], default: 'active' })
  @IsOmittable()
  @IsIn(['active', 'pending'])
  status?: 'active' | 'pending';

  @ApiPropertyOptional({ enum: PRIORITIES, default: 'medium' })
  @IsOmittable()
  @IsIn(PRIORITIES)
  priority?: CasePriority;
}

export class UpdateCaseDto {
  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(300)
  @IsPrintableText()
  title?: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(20_000)
  @IsMultilineText()
  description?: string;

  @ApiPropertyOptional({
    enum: ['active', 'pending'],
    description: 'Use /close and /reopen for closing',
  })
  @IsOmittable()
  @IsIn(['active', 'pending'])
  status?: 'active' | 'pending';

  @ApiPropertyOptional({ enum: PRIORITIES })
  @IsOmittable()
  @IsIn(PRIORITIES)
  priority?: CasePriority;
}

export class ListCasesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: CaseStatus;

  @ApiPropertyOptional({ enum: PRIORITIES })
  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: CasePriority;

  @ApiPropertyOptional({ description: 'Full-text search (web search syntax: "phrase", -not, or)' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  q?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Cases this user participates in' })
  @IsOptional()
  @IsUUID()
  participant?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString({ strict: true })
  createdFrom?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString({ strict: true })
  createdTo?: string;

  @ApiPropertyOptional({
    description: 'Field, `-` prefix for descending; default `-createdAt`, or relevance with `q`',
    example: '-priority',
  })
  @IsOptional()
  @Matches(new RegExp(`^-?(${CASE_SORTS.join('|')})$`), {
    message: `sort must be one of ${CASE_SORTS.join(', ')}, optionally prefixed with -`,
  })
  sort?: string;
}

export class AddParticipantDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  userId!: string;

  @ApiProperty({ enum: PARTICIPANT_ROLES })
  @IsIn(PARTICIPANT_ROLES)
  role!: ParticipantRole;
}

export class UpdateParticipantDto {
  @ApiProperty({ enum: PARTICIPANT_ROLES })
  @IsIn(PARTICIPANT_ROLES)
  role!: ParticipantRole;
}

export class AddNoteDto {
  @ApiProperty({ example: 'Called the witness back; no answer.' })
  @IsString()
  @MinLength(1)
  @MaxLength(10_000)
  @IsMultilineText()
  body!: string;
}

export class CaseResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'CASE-2026-000001' }) caseCode!: string;
  @ApiProperty() title!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ enum: STATUSES }) status!: CaseStatus;
  @ApiProperty({ enum: PRIORITIES }) priority!: CasePriority;
  @ApiProperty({ format: 'uuid' }) createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) closedAt!: string | null;
  @ApiProperty({ description: 'Row version; also sent as the ETag' }) version!: number;
  @ApiProperty({ description: 'Audio of the case is under legal hold' }) legalHold!: boolean;

  static from(entity: CaseEntity): CaseResponse {
    return {
      id: entity.id,
      caseCode: entity.caseCode,
      title: entity.title,
      description: entity.description,
      status: entity.status,
      priority: entity.priority,
      createdBy: entity.createdBy,
      createdAt: entity.createdAt.toISOString(),
      updatedAt: entity.updatedAt.toISOString(),
      closedAt: entity.closedAt?.toISOString() ?? null,
      version: entity.version,
      legalHold: entity.legalHoldAt !== null,
    };
  }
}

export class ParticipantResponse {
  @ApiProperty({ format: 'uuid' }) userId!: string;
  @ApiProperty({ enum: PARTICIPANT_ROLES }) role!: ParticipantRole;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) addedBy!: string | null;
  @ApiProperty({ format: 'date-time' }) addedAt!: string;

  static from(entity: CaseParticipantEntity): ParticipantResponse {
    return {
      userId: entity.userId,
      role: entity.role,
      addedBy: entity.addedBy,
      addedAt: entity.addedAt.toISOString(),
    };
  }
}

export class NoteResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) authorId!: string;
  @ApiProperty() body!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;

  static from(entity: CaseNoteEntity): NoteResponse {
    return {
      id: entity.id,
      authorId: entity.authorId,
      body: entity.body,
      createdAt: entity.createdAt.toISOString(),
    };
  }
}
