import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsIn, IsOptional, IsUUID, Matches, MaxLength } from 'class-validator';
import { canonicalJson } from '../../core/canonical-json';
import { CursorQuery } from '../../core/http/pagination';
import type { VerifyFailure } from '../audit-chain';
import { AuditCheckpointEntity } from '../entities/audit-checkpoint.entity';
import { checkpointPayload } from '../audit-checkpoints.service';
import { AuditLogEntity } from '../entities/audit-log.entity';

export const AUDIT_SORTS = ['occurredAt', '-occurredAt'] as const;
export type AuditSort = (typeof AUDIT_SORTS)[number];

export class AuditQuery extends CursorQuery {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  actorId?: string;

  @ApiPropertyOptional({ example: 'auth.login' })
  @IsOptional()
  @Matches(/^[a-z_]+\.[a-z_]+$/)
  action?: string;

  @ApiPropertyOptional({ example: 'user' })
  @IsOptional()
  @MaxLength(64)
  resourceType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @MaxLength(128)
  resourceId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  caseId?: string;

  @ApiPropertyOptional({ enum: ['success', 'failure'] })
  @IsOptional()
  @IsIn(['success', 'failure'])
  outcome?: 'success' | 'failure';

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;

  @ApiPropertyOptional({
    enum: AUDIT_SORTS,
    description:
      'Without: chain order (id ascending). `-occurredAt`: newest first, `occurredAt`: oldest ' +
      'first (ties by id). `after` is an id of the previous page, read in the same order.',
  })
  @IsOptional()
  @IsIn(AUDIT_SORTS)
  sort?: AuditSort;
}

export class AuditVerifyQuery {
  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;

  @ApiPropertyOptional({
    example: '12',
    description:
      'Verify from this checkpoint forward: the chain up to its entry is taken as signed ' +
      '(after checking the signature and that the entry still has the signed seq and hash). ' +
      'Not with `from`.',
  })
  @IsOptional()
  @Matches(/^[1-9]\d{0,17}$/, { message: 'fromCheckpoint must be a checkpoint id' })
  fromCheckpoint?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;
}

export class AuditEntryResponse {
  @ApiProperty({ example: '42' }) id!: string;
  @ApiProperty() occurredAt!: string;
  @ApiProperty({ nullable: true, type: String }) actorId!: string | null;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description: 'Only for callers with audit:read',
  })
  actorIp?: string | null;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description: 'Only for callers with audit:read',
  })
  userAgent?: string | null;
  @ApiProperty() action!: string;
  @ApiProperty({ nullable: true, type: String }) resourceType!: string | null;
  @ApiProperty({ nullable: true, type: String }) resourceId!: string | null;
  @ApiProperty({ nullable: true, type: String }) caseId!: string | null;
  @ApiProperty({ enum: ['success', 'failure'] }) outcome!: string;
  @ApiProperty({ type: Object }) details!: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) requestId!: string | null;
  @ApiProperty() prevHash!: string;
  @ApiProperty() hash!: string;
  @ApiProperty({ description: '1, 2, 3, … in chain order, without gaps', example: 42 })
  seq!: number;
  @ApiProperty({
    enum: [1, 2],
    description:
      'What the hash covers: 1 = entries from before seq existed (seq not hashed), 2 = seq hashed',
  })
  hashVersion!: number;

  /**
   * The entry without where the actor called from (address, agent): personal data that
   * readers of a case's activity without audit:read must not see.
   */
  static withoutClientDetails(entry: AuditLogEntity): AuditEntryResponse {
    const view = AuditEntryResponse.from(entry);
    delete view.actorIp;
    delete view.userAgent;
    return view;
  }

  static from(entry: AuditLogEntity): AuditEntryResponse {
    return {
      id: entry.id,
      occurredAt: entry.occurredAt.toISOString(),
      actorId: entry.actorId,
      actorIp: entry.actorIp,
      userAgent: entry.userAgent,
      action: entry.action,
      resourceType: entry.resourceType,
      resourceId: entry.resourceId,
      caseId: entry.caseId,
      outcome: entry.outcome,
      details: entry.details,
      requestId: entry.requestId,
      prevHash: entry.prevHash,
      hash: entry.hash,
      seq: Number(entry.seq),
      hashVersion: entry.hashVersion,
    };
  }
}

export class AuditVerifyResponse {
  @ApiProperty() valid!: boolean;
  @ApiProperty() checked!: number;
  @ApiPropertyOptional() firstBrokenId?: string;
  @ApiPropertyOptional({
    enum: ['seq_gap', 'seq_order', 'hash_version', 'link', 'content', 'checkpoint'],
    description:
      'Why the chain breaks at firstBrokenId: seq_gap = entries expectedSeq..foundSeq-1 are missing ' +
      '(deleted, or moved later); seq_order = a seq repeated or moved back (re-appended or reordered); ' +
      'hash_version = an older or unknown hash version after a newer one; link = prevHash is not the ' +
      "previous entry's hash; content = the hash does not match the entry; checkpoint = a signed " +
      'checkpoint does not verify, or the chain no longer reaches its entry with the signed seq ' +
      'and hash (a cut tail, a truncated or rewritten chain; expectedSeq = its seq, foundSeq = the ' +
      'last seq reached)',
  })
  reason?: VerifyFailure;
  @ApiPropertyOptional({ description: 'With reason checkpoint: the checkpoint that fails' })
  checkpointId?: string;
  @ApiPropertyOptional({
    description:
      "With a seq_* reason: the seq expected at firstBrokenId; with checkpoint: the checkpoint's",
  })
  expectedSeq?: number;
  @ApiPropertyOptional({
    description:
      'With a seq_* reason: the seq found at firstBrokenId; with checkpoint: the last one reached',
  })
  foundSeq?: number;
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

export class MyUsageQuery {
  @ApiPropertyOptional({ example: '2026-11', description: 'Default: the current month (UTC)' })
  @IsOptional()
  @Matches(MONTH, { message: 'month must be YYYY-MM' })
  month?: string;
}

export class UsageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: "Without: every user's row of the month" })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiProperty({ example: '2026-11' })
  @Matches(MONTH, { message: 'month must be YYYY-MM' })
  month!: string;

  @ApiPropertyOptional({ enum: ['json', 'csv'], default: 'json' })
  @IsOptional()
  @IsIn(['json', 'csv'])
  format?: 'json' | 'csv';
}

export class UsageResponse {
  @ApiProperty() userId!: string;
  @ApiProperty({ example: '2026-11' }) month!: string;
  @ApiProperty() filesUploaded!: number;
  @ApiProperty() bytesUploaded!: number;
  @ApiProperty() audioSeconds!: number;
  @ApiProperty() transcriptions!: number;
  @ApiProperty() jobsSucceeded!: number;
  @ApiProperty() jobsFailed!: number;
  @ApiProperty() turnsIngested!: number;
}

export class UserUsageResponse extends UsageResponse {
  @ApiProperty({ nullable: true, type: String }) username!: string | null;
}

export class UsageListResponse {
  @ApiProperty({ type: [UserUsageResponse] }) data!: UserUsageResponse[];
  @ApiProperty({ example: { month: '2026-11', total: 1 } })
  meta!: { month: string; total: number };
}

export class AuditCheckpointResponse {
  @ApiProperty({ example: '7' }) id!: string;
  @ApiProperty({ example: '1042', description: 'Id of the newest entry when signed' })
  lastId!: string;
  @ApiProperty({ example: 1042 }) lastSeq!: number;
  @ApiProperty() lastHash!: string;
  @ApiProperty({ description: 'Entries in the chain when signed' }) count!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({
    description: 'Id of the Ed25519 key that signed (first 16 hex of SHA-256 of its SPKI)',
  })
  keyId!: string;
  @ApiProperty({ description: 'Base64 Ed25519 signature of `payload`' })
  signature!: string;
  @ApiProperty({
    description:
      'The exact text signed: canonical JSON of { at, count, lastHash, lastId, lastSeq } (keys sorted)',
  })
  payload!: string;

  static from(checkpoint: AuditCheckpointEntity): AuditCheckpointResponse {
    const signed = checkpointPayload(checkpoint);
    return {
      id: checkpoint.id,
      ...signed,
      keyId: checkpoint.keyId,
      signature: checkpoint.signature,
      payload: canonicalJson(signed),
    };
  }
}
