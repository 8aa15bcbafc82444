import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { AuditModule } from '../audit/audit.module';
import { AppConfig } from '../core/config/app-config';
import { AccessExplainController } from './access-explain.controller';
import { AccessExplainService } from './access-explain.service';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { PasswordHasher } from './password-hasher';
import { RolesController } from './roles.controller';
import { RolesRepository } from './roles.repository';
import { RolesService } from './roles.service';
import { SessionsRepository } from './sessions.repository';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { OidcClient } from './oidc/oidc-client';
import { OidcController } from './oidc/oidc.controller';
import { OidcFlowStore } from './oidc/oidc-flow-store';
import { OidcService } from './oidc/oidc.service';
import { UserIdentitiesRepository } from './oidc/user-identities.repository';
import { TokensService } from './tokens.service';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

@Module({
  imports: [
    AuditModule,
    PassportModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        config.get('JWT_ALGORITHM') === 'HS256'
          ? { secret: config.get('JWT_SECRET'), signOptions: { algorithm: 'HS256' } }
          : {
              privateKey: config.get('JWT_PRIVATE_KEY'),
              publicKey: config.get('JWT_PUBLIC_KEY'),
              signOptions: { algorithm: 'RS256' },
            },
    }),
  ],
  controllers: [
    AuthController,
    UsersController,
    RolesController,
    ApiKeysController,
    AccessExplainController,
    OidcController,
  ],
  providers: [
    AccessExplainService,
    AuthService,
    UsersService,
    RolesService,
    ApiKeysService,
    TokensService,
    PasswordHasher,
    UsersRepository,
    RolesRepository,
    SessionsRepository,
    ApiKeysRepository,
    JwtStrategy,
    ApiKeyStrategy,
    OidcClient,
    OidcFlowStore,
    OidcService,
    UserIdentitiesRepository,
  ],
  exports: [UsersRepository, PasswordHasher, UsersService],
})
export class AuthModule {}
