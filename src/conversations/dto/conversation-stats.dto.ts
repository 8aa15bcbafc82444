import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** 30 days: the longest window GET /stats/conversations reports. */
export const MAX_ACTIVITY_HOURS = 720;

export class ConversationActivityQuery {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_ACTIVITY_HOURS,
    default: 24,
    example: 24,
    description: 'Hours in the window, the current (unfinished) UTC hour included',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_ACTIVITY_HOURS)
  hours = 24;
}

export class HourlyActivityResponse {
  @ApiProperty({
    format: 'date-time',
    example: '2026-12-05T08:00:00.000Z',
    description: 'Start of the UTC hour',
  })
  hour!: string;
  @ApiProperty({ example: 120, description: 'Turns spoken in this hour' })
  turns!: number;
  @ApiProperty({ example: 3, description: 'Conversations with at least one turn in this hour' })
  activeConversations!: number;
  @ApiProperty({
    nullable: true,
    type: Number,
    example: 84.5,
    description: "Mean processingTimeMs of this hour's turns that have one; null when none has",
  })
  averageProcessingTimeMs!: number | null;
}

export class ActivityTotalsResponse {
  @ApiProperty({ example: 2880, description: 'Turns spoken in the window' })
  turns!: number;
  @ApiProperty({ example: 7, description: 'Conversations with at least one turn in the window' })
  conversations!: number;
  @ApiProperty({ example: 2500, description: 'Of those turns, cleaningApplied' })
  turnsCleaned!: number;
  @ApiProperty({ example: 12, description: 'Of those turns, transcriptionErrorDetected' })
  errorsFiltered!: number;
}

export class ConversationActivityResponse {
  @ApiProperty({
    type: [HourlyActivityResponse],
    description: 'Every hour of the window, oldest first, hours without turns included',
  })
  hourly!: HourlyActivityResponse[];
  @ApiProperty({ type: ActivityTotalsResponse })
  totals!: ActivityTotalsResponse;
}
