import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import type { AccessLevel } from '../../core/access/access-decision';
import type { AccessVerdict, ExplainStep, StepOutcome } from '../../core/access/access-explain';
import { Permission, PERMISSIONS } from '../../core/security/permissions';

const LEVELS: AccessLevel[] = ['read', 'write', 'manage'];

export class AccessExplainQuery {
  @ApiProperty({ format: 'uuid', description: 'The user whose access is explained' })
  @IsUUID()
  userId!: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'The case; without it only account, role and permission are explained',
  })
  @IsOptional()
  @IsUUID()
  caseId?: string;

  @ApiProperty({ enum: PERMISSIONS, description: 'The permission a route requires' })
  @IsIn(PERMISSIONS)
  permission!: Permission;

  @ApiPropertyOptional({
    enum: LEVELS,
    description:
      'How much of the case the route needs: read for a `*:read` permission, write otherwise ' +
      'by default; manage for participant changes',
  })
  @IsOptional()
  @IsIn(LEVELS)
  access?: AccessLevel;
}

export class AccessReasonResponse {
  @ApiProperty({ enum: ['account', 'role', 'permission', 'resource'] })
  step!: ExplainStep;

  @ApiProperty({ enum: ['pass', 'fail', 'skip'] })
  outcome!: StepOutcome;

  @ApiProperty({ example: 'cases:read granted by wildcard cases:* in role supervisor' })
  detail!: string;
}

export class AccessExplainResponse {
  @ApiProperty() allowed!: boolean;

  @ApiProperty({
    enum: ['allowed', 'unauthenticated', 'forbidden', 'invisible'],
    description: 'What the guard answers: pass, 401, 403 or 404',
  })
  decision!: AccessVerdict;

  @ApiProperty({ type: [AccessReasonResponse] })
  reasons!: AccessReasonResponse[];
}
