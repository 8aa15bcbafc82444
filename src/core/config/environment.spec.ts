import { validateEnvironment } from './environment';

describe('CONVERSATION_IDLE_MINUTES', () => {
  const base = { ...process.env };
  const idle = (value?: string) =>
    validateEnvironment({
      ...base,
      CONVERSATION_IDLE_MINUTES: value,
    }).CONVERSATION_IDLE_MINUTES;

  it('defaults to 120 minutes and accepts 0 (never end an idle conversation)', () => {
    expect(idle(undefined)).toBe(120);
    expect(idle('')).toBe(120);
    expect(idle('0')).toBe(0);
    expect(idle('15')).toBe(15);
  });

  it.each(['-1', '1.5', 'soon', '525601'])('refuses %s at start-up', (value) => {
    expect(() => idle(value)).toThrow(/CONVERSATION_IDLE_MINUTES/);
  });
});

describe('OIDC settings (SPEC section 13)', () => {
  const base = { ...process.env };
  const complete = {
    OIDC_ISSUER: 'https://id.example.com/realms/main',
    OIDC_CLIENT_ID: 'verbatim',
    OIDC_CLIENT_SECRET: 'secret',
    OIDC_REDIRECT_URI: 'https://verbatim.example.com/api/v1/auth/oidc/callback',
  };
  const validate = (env: Record<string, string | undefined>) =>
    validateEnvironment({ ...base, ...env });

  it('is off without an issuer, and PASSWORD_LOGIN defaults to true', () => {
    const env = validate({ OIDC_ISSUER: '' });
    expect(env.OIDC_ISSUER).toBeUndefined();
    expect(env.PASSWORD_LOGIN).toBe(true);
    expect(validate({ PASSWORD_LOGIN: 'false' }).PASSWORD_LOGIN).toBe(false);
  });

  it('accepts a complete configuration, with http only on a loopback issuer', () => {
    expect(validate(complete).OIDC_ROLE_CLAIM).toBe('groups');
    expect(() => validate({ ...complete, OIDC_ISSUER: 'http://127.0.0.1:8080' })).not.toThrow();
    expect(() => validate({ ...complete, OIDC_ISSUER: 'http://id.example.com' })).toThrow(
      /OIDC_ISSUER/,
    );
  });

  it.each(['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URI'])(
    'refuses to start without %s when an issuer is set',
    (name) => {
      expect(() => validate({ ...complete, [name]: '' })).toThrow(new RegExp(name));
    },
  );

  it.each([
    ['OIDC_ROLE_MAP', 'staff:case_worker'],
    ['OIDC_ROLE_MAP', '["case_worker"]'],
    ['OIDC_ROLE_MAP', '{"staff":"Case Worker"}'],
    ['OIDC_ID_TOKEN_ALG', 'none'],
    ['OIDC_ID_TOKEN_ALG', 'HS256'],
    ['OIDC_SCOPES', 'email profile'],
    ['OIDC_DEFAULT_ROLE', 'Case Worker'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => validate({ ...complete, [name]: value })).toThrow(new RegExp(name));
  });
});
