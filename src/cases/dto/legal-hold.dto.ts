import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';

const REASON_EXAMPLE = 'Litigation hold requested by counsel, ref. 2026-17';

export class LegalHoldDto {
  @ApiProperty({ example: REASON_EXAMPLE })
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @IsPrintableText()
  reason!: string;
}

/**
 * The reason for lifting a hold, as `?reason=` or in a JSON body: many HTTP clients and
 * proxies drop the body of a DELETE. One of the two is required (checked by the service).
 */
export class LiftHoldReasonDto {
  @ApiPropertyOptional({ example: 'Settled' })
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  @IsPrintableText()
  reason?: string;
}

export class LegalHoldResponse {
  @ApiProperty({ format: 'uuid' }) caseId!: string;
  @ApiProperty() legalHold!: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) since!: string | null;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
}
