import { ProblemException } from '../core/http/problem.exception';

export enum AuthErrorCode {
  InvalidCredentials = 'invalid-credentials',
  LoginLocked = 'login-locked',
  LoginBusy = 'login-busy',
  CredentialChangeNeedsSession = 'credential-change-needs-session',
  EmailChangeByAdministrator = 'email-change-by-administrator',
  InvalidRefreshToken = 'invalid-refresh-token',
  RefreshTokenReused = 'refresh-token-reused',
  WrongCurrentPassword = 'wrong-current-password',
  UserExists = 'user-exists',
  RoleExists = 'role-exists',
  UnknownRole = 'unknown-role',
  RoleCycle = 'role-cycle',
  RoleInUse = 'role-in-use',
  BuiltInRole = 'built-in-role',
  InvalidPermission = 'invalid-permission',
  CannotChangeSelf = 'cannot-change-self',
  BeyondOwnPermissions = 'beyond-own-permissions',
  PasswordLoginDisabled = 'password-login-disabled',
  OidcNotConfigured = 'oidc-not-configured',
  OidcUnavailable = 'oidc-unavailable',
  OidcInvalidState = 'oidc-invalid-state',
  OidcFailed = 'oidc-failed',
  OidcEmailNotVerified = 'oidc-email-not-verified',
  OidcEmailMissing = 'oidc-email-missing',
  OidcNoRole = 'oidc-no-role',
  OidcAccountNotLinkable = 'oidc-account-not-linkable',
  AccountInactive = 'account-inactive',
}

const DEFINITIONS: Record<AuthErrorCode, { status: number; title: string; detail: string }> = {
  [AuthErrorCode.InvalidCredentials]: {
    status: 401,
    title: 'Unauthorized',
    detail: 'The login or password is wrong.',
  },
  [AuthErrorCode.LoginLocked]: {
    status: 429,
    title: 'Too Many Requests',
    detail: 'Too many failed logins. Try again later.',
  },
  [AuthErrorCode.LoginBusy]: {
    status: 429,
    title: 'Too Many Requests',
    detail: 'Too many sign-ins of this account are being checked at once. Retry shortly.',
  },
  [AuthErrorCode.CredentialChangeNeedsSession]: {
    status: 403,
    title: 'Forbidden',
    detail:
      'API keys cannot create API keys or change credentials; sign in with your password to do this.',
  },
  [AuthErrorCode.EmailChangeByAdministrator]: {
    status: 403,
    title: 'Forbidden',
    detail: 'Your e-mail address is changed by an administrator (users:manage).',
  },
  [AuthErrorCode.InvalidRefreshToken]: {
    status: 401,
    title: 'Unauthorized',
    detail: 'The refresh token is invalid, expired or revoked.',
  },
  [AuthErrorCode.RefreshTokenReused]: {
    status: 401,
    title: 'Unauthorized',
    detail: 'The refresh token was already used; the session has been revoked.',
  },
  [AuthErrorCode.WrongCurrentPassword]: {
    status: 403,
    title: 'Forbidden',
    detail: 'The current password is wrong.',
  },
  [AuthErrorCode.UserExists]: {
    status: 409,
    title: 'Conflict',
    detail: 'A user with this username or email already exists.',
  },
  [AuthErrorCode.RoleExists]: {
    status: 409,
    title: 'Conflict',
    detail: 'A role with this name already exists.',
  },
  [AuthErrorCode.UnknownRole]: {
    status: 422,
    title: 'Unprocessable Content',
    detail: 'The named role does not exist.',
  },
  [AuthErrorCode.RoleCycle]: {
    status: 422,
    title: 'Unprocessable Content',
    detail: 'The parent role would create a cycle in the role hierarchy.',
  },
  [AuthErrorCode.RoleInUse]: {
    status: 409,
    title: 'Conflict',
    detail: 'The role is assigned to users or is the parent of another role.',
  },
  [AuthErrorCode.BuiltInRole]: {
    status: 409,
    title: 'Conflict',
    detail: 'Built-in roles cannot be deleted and the admin role cannot be changed.',
  },
  [AuthErrorCode.InvalidPermission]: {
    status: 422,
    title: 'Unprocessable Content',
    detail: 'A permission is not in the catalogue (GET /permissions).',
  },
  [AuthErrorCode.CannotChangeSelf]: {
    status: 409,
    title: 'Conflict',
    detail: 'You cannot deactivate yourself or change your own role.',
  },
  [AuthErrorCode.BeyondOwnPermissions]: {
    status: 403,
    title: 'Forbidden',
    detail: 'You cannot grant, assign or manage a role with permissions you do not hold yourself.',
  },
  [AuthErrorCode.PasswordLoginDisabled]: {
    status: 403,
    title: 'Forbidden',
    detail: 'Password login is turned off; sign in through single sign-on (/auth/oidc/login).',
  },
  [AuthErrorCode.OidcNotConfigured]: {
    status: 404,
    title: 'Not Found',
    detail: 'Single sign-on is not configured on this server.',
  },
  [AuthErrorCode.OidcUnavailable]: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The identity provider cannot be reached. Try again later.',
  },
  [AuthErrorCode.OidcInvalidState]: {
    status: 401,
    title: 'Unauthorized',
    detail:
      'This sign-in is unknown, expired, already used or was started in another browser; start again.',
  },
  [AuthErrorCode.OidcFailed]: {
    status: 401,
    title: 'Unauthorized',
    detail: 'The identity provider did not confirm this sign-in.',
  },
  [AuthErrorCode.OidcEmailNotVerified]: {
    status: 409,
    title: 'Conflict',
    detail:
      'An account with this e-mail exists; it is linked only when the identity provider asserts the e-mail as verified.',
  },
  [AuthErrorCode.OidcEmailMissing]: {
    status: 403,
    title: 'Forbidden',
    detail:
      'The identity provider sent no e-mail address; an account cannot be created without one.',
  },
  [AuthErrorCode.OidcNoRole]: {
    status: 403,
    title: 'Forbidden',
    detail: 'None of your groups at the identity provider is given a role here.',
  },
  [AuthErrorCode.OidcAccountNotLinkable]: {
    status: 409,
    title: 'Conflict',
    detail:
      'The account with this e-mail cannot be linked to this identity (it is the built-in administrator or already linked to another identity).',
  },
  [AuthErrorCode.AccountInactive]: {
    status: 403,
    title: 'Forbidden',
    detail: 'This account is deactivated.',
  },
};

export class AuthException extends ProblemException {
  constructor(code: AuthErrorCode, detail?: string, headers?: Record<string, string>) {
    const definition = DEFINITIONS[code];
    super({ ...definition, code, detail: detail ?? definition.detail, headers });
  }
}
