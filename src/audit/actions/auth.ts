/** Audit actions of the identity and administration modules. */
export const AUTH_ACTIVITY_TYPES = {
  'auth.login': 'Successful login',
  'auth.login_failed': 'Failed login attempt',
  'auth.lockout': 'Login locked after repeated failures',
  'auth.refresh': 'Access token refreshed',
  'auth.refresh_reuse': 'A rotated refresh token was presented again; its session was revoked',
  'auth.logout': 'Logout (session revoked)',
  'auth.password_change': 'Password changed; other sessions revoked',
  'auth.oidc_link':
    'An OpenID Connect identity was linked to an existing account through its verified e-mail',
  'user.create': 'User created',
  'user.update': 'User changed',
  'role.create': 'Role created',
  'role.update': 'Role changed',
  'role.delete': 'Role deleted',
  'api_key.create': 'API key created',
  'api_key.revoke': 'API key revoked',
} as const;

export type AuthActivityType = keyof typeof AUTH_ACTIVITY_TYPES;
