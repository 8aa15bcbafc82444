import * as jose from 'jose';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a minted ID token is made of; the spec changes one part per case. */
export interface IdTokenParts {
  claims: Record<string, unknown>;
  /** Signs the token: the issuer's key unless the case forges or strips the signature. */
  sign(claims: Record<string, unknown>): Promise<string>;
}

/**
 * A minimal OpenID provider for the ID-token cases a real provider never emits (forged,
 * expired, wrong audience, wrong nonce, `alg: none`, HMAC with the client secret): it
 * publishes discovery and a JWKS, and its token endpoint checks the client, the code and the
 * PKCE verifier, then answers with whatever ID token the spec mints for that code.
 */
export class FakeOidcIssuer {
  readonly clientId = 'verbatim-fake';
  readonly clientSecret = 'verbatim-fake-secret-0123456789abcdef';
  readonly redirectUri = 'http://127.0.0.1/api/v1/auth/oidc/callback';
  readonly kid = randomUUID();
  issuer = '';
  /** Token requests the endpoint answered, for the PKCE assertions. */
  readonly tokenRequests: URLSearchParams[] = [];
  private server?: Server;
  private keys?: jose.GenerateKeyPairResult;
  private readonly codes = new Map<string, { challenge: string; idToken: string }>();

  async start(): Promise<this> {
    this.keys = await jose.generateKeyPair('RS256', { extractable: true });
    const server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        })
        .catch((error: unknown) => res.writeHead(500).end(String(error)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  get env(): Record<string, string> {
    return {
      OIDC_ISSUER: this.issuer,
      OIDC_CLIENT_ID: this.clientId,
      OIDC_CLIENT_SECRET: this.clientSecret,
      OIDC_REDIRECT_URI: this.redirectUri,
    };
  }

  /** Claims of a valid ID token for the sign-in the app's authorization URL started. */
  validClaims(authorizationUrl: URL, extra: Record<string, unknown>): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: this.issuer,
      aud: this.clientId,
      iat: now,
      exp: now + 300,
      nonce: authorizationUrl.searchParams.get('nonce'),
      ...extra,
    };
  }

  /** Signs with the key the JWKS publishes. */
  readonly signValid = (claims: Record<string, unknown>): Promise<string> =>
    new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: this.kid })
      .sign(this.keys!.privateKey);

  /**
   * "Authorizes" the request of `authorizationUrl` as the provider would after a sign-in,
   * and returns the callback query the browser would bring back: the ID token of `parts`
   * is what the token endpoint will answer for that code.
   */
  async authorize(authorizationUrl: URL, parts: IdTokenParts): Promise<string> {
    const code = randomBytes(16).toString('base64url');
    this.codes.set(code, {
      challenge: authorizationUrl.searchParams.get('code_challenge') ?? '',
      idToken: await parts.sign(parts.claims),
    });
    const query = new URLSearchParams({
      code,
      state: authorizationUrl.searchParams.get('state') ?? '',
    });
    return `?${query.toString()}`;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const url = new URL(req.url ?? '/', this.issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return {
        status: 200,
        body: {
          issuer: this.issuer,
          authorization_endpoint: `${this.issuer}/authorize`,
          token_endpoint: `${this.issuer}/token`,
          jwks_uri: `${this.issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
        },
      };
    }
    if (url.pathname === '/jwks') {
      const jwk = await jose.exportJWK(this.keys!.publicKey);
      return { status: 200, body: { keys: [{ ...jwk, kid: this.kid, alg: 'RS256', use: 'sig' }] } };
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      this.tokenRequests.push(params);
      // client_secret_basic: form-urlencoded id and secret, base64 (RFC 6749, 2.3.1).
      const [id, secret] = Buffer.from(
        (req.headers.authorization ?? '').replace(/^Basic /, ''),
        'base64',
      )
        .toString('utf8')
        .split(':')
        .map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
      if (id !== this.clientId || secret !== this.clientSecret) {
        return { status: 401, body: { error: 'invalid_client' } };
      }
      const issued = this.codes.get(params.get('code') ?? '');
      this.codes.delete(params.get('code') ?? '');
      const verifier = params.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (
        !issued ||
        params.get('grant_type') !== 'authorization_code' ||
        params.get('redirect_uri') !== this.redirectUri ||
        challenge !== issued.challenge
      ) {
        return { status: 400, body: { error: 'invalid_grant' } };
      }
      return {
        status: 200,
        body: {
          access_token: randomBytes(16).toString('base64url'),
          token_type: 'Bearer',
          expires_in: 300,
          id_token: issued.idToken,
        },
      };
    }
    return { status: 404, body: { error: 'not_found' } };
  }
}
