import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import { UserEntity } from '../entities/user.entity';
import { PASSWORD_MIN, PasswordPolicy } from './password-policy';

export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,64}$/;
export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9_]{1,63}$/;
export { PASSWORD_MAX, PASSWORD_MIN } from './password-policy';

export class CreateUserDto {
  @ApiProperty({ example: 'jdoe' })
  @Matches(USERNAME_PATTERN, { message: 'username must be 3-64 letters, digits, _ . or -' })
  username!: string;

  @ApiProperty({ example: 'jdoe@example.com' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'Jane Doe' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  fullName!: string;

  @ApiProperty({ minLength: PASSWORD_MIN, writeOnly: true })
  @PasswordPolicy()
  password!: string;

  @ApiProperty({ example: 'case_worker' })
  @Matches(ROLE_NAME_PATTERN, { message: 'role must be a role name in lower_snake_case' })
  role!: string;
}

/** What an administrator may change on a user. */
export class UpdateUserDto {
  @ApiPropertyOptional()
  @IsOmittable()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  fullName?: string;

  @ApiPropertyOptional({ example: 'supervisor' })
  @IsOmittable()
  @Matches(ROLE_NAME_PATTERN, { message: 'role must be a role name in lower_snake_case' })
  role?: string;

  @ApiPropertyOptional({ description: 'false revokes every session and token of the user at once' })
  @IsOmittable()
  @IsBoolean()
  isActive?: boolean;

  @ApiPropertyOptional({
    minLength: PASSWORD_MIN,
    writeOnly: true,
    description: 'Administrative reset',
  })
  @IsOmittable()
  @PasswordPolicy()
  password?: string;
}

/** What users may change about themselves: not their role, state or password (see /auth/password). */
export class UpdateMeDto {
  @ApiPropertyOptional()
  @IsOmittable()
  @IsEmail()
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @IsPrintableText()
  fullName?: string;
}

export class UserResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() username!: string;
  @ApiProperty() email!: string;
  @ApiProperty() fullName!: string;
  @ApiProperty() role!: string;
  @ApiProperty() isActive!: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastLoginAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;

  static from(user: UserEntity): UserResponse {
    return {
      id: user.id,
      username: user.username,
      email: user.email,
      fullName: user.fullName,
      role: user.role,
      isActive: user.isActive,
      lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
      createdAt: user.createdAt.toISOString(),
      updatedAt: user.updatedAt.toISOString(),
    };
  }
}
