import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  Matches,
  Max,
  Min,
} from 'class-validator';
import type { DeadLetter } from '../../conversations/turns/turn-dead-letters';

/** `<ms>-<seq>`, or `<shard>.<ms>-<seq>` on a Redis Cluster. */
const STREAM_ID = /^(\d{1,4}\.)?\d{1,15}-\d{1,10}$/;

export class DeadLettersQuery {
  @ApiPropertyOptional({ description: 'Return entries after this id', example: '1764900000000-0' })
  @IsOptional()
  @Matches(STREAM_ID, { message: 'after must be a dead-letter id such as 1764900000000-0' })
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit = 50;
}

export class ReplayDeadLettersDto {
  @ApiPropertyOptional({
    type: [String],
    description: 'Dead letters to replay; absent: the oldest `limit`',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @Matches(STREAM_ID, { each: true, message: 'each id must be a dead-letter id' })
  ids?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit = 100;
}

export class DeadLetterResponse {
  @ApiProperty({ example: '1764900000000-0' }) id!: string;
  @ApiProperty({ format: 'uuid' }) conversationId!: string;
  @ApiProperty() messageNumber!: number;
  @ApiProperty({ description: 'Why the database refused it' }) reason!: string;
  @ApiProperty({ format: 'date-time' }) deadLetteredAt!: string;
  @ApiProperty({ description: 'The turn as it was accepted', type: Object })
  turn!: Record<string, unknown>;

  static from(letter: DeadLetter): DeadLetterResponse {
    return {
      id: letter.id,
      conversationId: letter.conversationId,
      messageNumber: letter.turn.messageNumber,
      reason: letter.reason,
      deadLetteredAt: letter.deadLetteredAt.toISOString(),
      turn: letter.turn as unknown as Record<string, unknown>,
    };
  }
}

export class DeadLetterPage {
  @ApiProperty({ type: [DeadLetterResponse] }) data!: DeadLetterResponse[];
  @ApiProperty({ description: 'Dead letters in all' }) total!: number;
  @ApiProperty({ nullable: true, type: String, description: '`after` for the next page' })
  nextCursor!: string | null;
}

export class ReplayResponse {
  @ApiProperty({ type: [String] }) replayed!: string[];
  @ApiProperty({ description: 'Dead letters left' }) remaining!: number;
}
