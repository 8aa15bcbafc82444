import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

/** No control characters in free text that reaches logs and audit details. */
// eslint-disable-next-line no-control-regex
const PRINTABLE = /^[^\u0000-\u001f\u007f]*$/;
const REASON_EXAMPLE = 'Litigation hold requested by counsel, ref. 2026-17';

export class LegalHoldDto {
  @ApiProperty({ example: REASON_EXAMPLE })
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @Matches(PRINTABLE, { message: 'reason must not contain control characters' })
  reason!: string;
}

/**
 * The reason for lifting a hold, as `?reason=` or in a JSON body: many HTTP clients and
 * proxies drop the body of a DELETE. One of the two is required (checked by the service).
 */
export class LiftHoldReasonDto {
  @ApiPropertyOptional({ example: 'Settled' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @Matches(PRINTABLE, { message: 'reason must not contain control characters' })
  reason?: string;
}

export class LegalHoldResponse {
  @ApiProperty({ format: 'uuid' }) caseId!: string;
  @ApiProperty() legalHold!: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) since!: string | null;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
}
