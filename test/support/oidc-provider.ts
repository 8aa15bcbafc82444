import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface OidcAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** The app settings that point single sign-on at this provider. */
  env: Record<string, string>;
  /** Creates or replaces an account (its claims) at the provider. */
  setAccount(sub: string, claims: OidcAccount): Promise<void>;
  /**
   * Plays the browser at the provider: follows `authorizationUrl` (the app's redirect),
   * signs in as `sub`, and returns the URL the provider sends the browser back to.
   */
  authorize(authorizationUrl: string, sub: string): Promise<URL>;
  stop(): Promise<void>;
}

/** The callback the provider redirects to; the specs call the app's callback with its query. */
export const TEST_REDIRECT_URI = 'http://127.0.0.1/api/v1/auth/oidc/callback';

/**
 * Starts a real OpenID provider (oidc-provider, in a child `node` process: it is ESM only)
 * on a loopback port, with one confidential client registered for TEST_REDIRECT_URI.
 */
export async function startOidcProvider(): Promise<TestOidcProvider> {
  const clientId = 'verbatim-test';
  const clientSecret = 'verbatim-test-secret-0123456789abcdef';
  const redirectUri = TEST_REDIRECT_URI;
  const child: ChildProcess = spawn(
    process.execPath,
    [join(__dirname, 'oidc-provider.mjs'), JSON.stringify({ clientId, clientSecret, redirectUri })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`oidc-provider process exited with ${String(code)}`);
    }),
  ])) as [string];
  lines.close();
  const { issuer } = JSON.parse(first) as { issuer: string };

  return {
    issuer,
    clientId,
    clientSecret,
    redirectUri,
    env: {
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: clientId,
      OIDC_CLIENT_SECRET: clientSecret,
      OIDC_REDIRECT_URI: redirectUri,
      OIDC_SCOPES: 'openid email profile groups',
    },
    async setAccount(sub, claims) {
      const response = await fetch(`${issuer}/__accounts/${encodeURIComponent(sub)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(claims),
      });
      if (response.status !== 204) throw new Error(`setAccount: ${response.status}`);
    },
    async authorize(authorizationUrl, sub) {
      const url = new URL(authorizationUrl);
      if (!url.href.startsWith(issuer)) throw new Error(`not this provider: ${url.href}`);
      url.searchParams.set('login_hint', sub);
      const jar = new Map<string, string>();
      let next = url.href;
      for (let hop = 0; hop < 10; hop += 1) {
        const response = await fetch(next, {
          redirect: 'manual',
          headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
        });
        for (const cookie of response.headers.getSetCookie()) {
          const [pair] = cookie.split(';');
          const separator = pair!.indexOf('=');
          jar.set(pair!.slice(0, separator), pair!.slice(separator + 1));
        }
        const location = response.headers.get('location');
        if (!location) {
          throw new Error(`provider answered ${response.status}: ${await response.text()}`);
        }
        const target = new URL(location, next);
        if (target.href.startsWith(redirectUri)) return target;
        next = target.href;
      }
      throw new Error('too many redirects at the provider');
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
