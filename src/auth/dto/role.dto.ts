import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import { RoleEntity } from '../entities/role.entity';
import { ROLE_NAME_PATTERN } from './user.dto';

const GRANT_SHAPE = /^(\*|[a-z_]+:(\*|[a-z_]+))$/;

export class CreateRoleDto {
  @ApiProperty({ example: 'team_lead', description: 'Stable lower_snake_case name' })
  @Matches(ROLE_NAME_PATTERN, { message: 'name must be lower_snake_case, 2-64 characters' })
  name!: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(500)
  @IsPrintableText()
  description?: string;

  @ApiProperty({ type: [String], example: ['cases:read', 'audio:*'] })
  @IsArray()
  @ArrayMaxSize(100)
  @Matches(GRANT_SHAPE, {
    each: true,
    message: 'each permission must look like resource:action, resource:* or *',
  })
  permissions!: string[];

  @ApiPropertyOptional({ nullable: true, type: String, example: 'case_worker' })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @Matches(ROLE_NAME_PATTERN, { message: 'parentRole must be a role name' })
  parentRole?: string | null;
}

export class UpdateRoleDto {
  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MaxLength(500)
  @IsPrintableText()
  description?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(100)
  @Matches(GRANT_SHAPE, {
    each: true,
    message: 'each permission must look like resource:action, resource:* or *',
  })
  permissions?: string[];

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @Matches(ROLE_NAME_PATTERN, { message: 'parentRole must be a role name' })
  parentRole?: string | null;
}

export class RoleResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ type: [String] }) permissions!: string[];
  @ApiProperty({ nullable: true, type: String }) parentRole!: string | null;
  @ApiProperty() isBuiltIn!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;

  static from(role: RoleEntity): RoleResponse {
    return {
      id: role.id,
      name: role.name,
      description: role.description,
      permissions: role.permissions,
      parentRole: role.parentRole,
      isBuiltIn: role.isBuiltIn,
      createdAt: role.createdAt.toISOString(),
      updatedAt: role.updatedAt.toISOString(),
    };
  }
}

export class PermissionResponse {
  @ApiProperty({ example: 'cases:read' }) name!: string;
  @ApiProperty() description!: string;
}
