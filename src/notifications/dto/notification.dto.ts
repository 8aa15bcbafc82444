import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, Matches } from 'class-validator';
import { NOTIFICATION_TYPES } from '../../core/events/domain-event';
import { CursorQuery } from '../../core/http/pagination';
import { UUID } from '../../core/http/validation-patterns';
import type { NotificationRow } from '../notifications.repository';

/** Newest first; `after` is the id of the last notification of the previous page. */
export class NotificationsQuery extends CursorQuery {
  @ApiPropertyOptional({
    format: 'uuid',
    example: '0b6f3b1e-7c1a-4d2e-9f3a-2b8c4d5e6f70',
    description: 'Return notifications older than this one',
  })
  @IsOptional()
  @Matches(UUID, { message: 'after must be the id of one of your notifications' })
  override after?: string = undefined;

  @ApiPropertyOptional({ description: 'Only unread notifications' })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' ? true : value === 'false' ? false : value,
  )
  @IsBoolean()
  unread?: boolean;
}

export class NotificationResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: NOTIFICATION_TYPES })
  type!: string;

  @ApiProperty({ example: 'Transcription v2 of hearing.wav' })
  title!: string;

  @ApiProperty({ example: 'transcription' })
  resourceType!: string;

  @ApiProperty()
  resourceId!: string;

  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  caseId!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true })
  data!: Record<string, unknown>;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  readAt!: string | null;

  static from(row: NotificationRow): NotificationResponse {
    return {
      id: row.id,
      type: row.type,
      title: row.title,
      resourceType: row.resourceType,
      resourceId: row.resourceId,
      caseId: row.caseId,
      data: row.data,
      createdAt: new Date(row.createdAt).toISOString(),
      readAt: row.readAt ? new Date(row.readAt).toISOString() : null,
    };
  }
}

export class UnreadCountResponse {
  @ApiProperty({ example: 3 })
  count!: number;
}

export class ReadAllResponse {
  @ApiProperty({ description: 'How many notifications were unread and are now read' })
  count!: number;
}
