import { Injectable, Logger } from '@nestjs/common';
import * as client from 'openid-client';
import { AppConfig } from '../../core/config/app-config';
import { AuthErrorCode, AuthException } from '../auth.exception';

/** What a started sign-in keeps server-side until its callback (never sent to the browser). */
export interface PendingSignIn {
  nonce: string;
  codeVerifier: string;
}

/** The provider's answer, validated: who signed in and the claims the mapping reads. */
export interface VerifiedIdentity {
  issuer: string;
  subject: string;
  claims: Record<string, unknown>;
}

/** Why a callback was refused, for the audit entry (never shown to the caller). */
export class OidcRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const DISCOVERY_TIMEOUT_SECONDS = 10;

/**
 * The relying party, through openid-client (OpenID-certified, maintained by the author of
 * `jose` and `oidc-provider`): discovery, authorization URL with PKCE S256, code exchange
 * with the ID token checked against the provider's JWKS (signature with the one configured
 * algorithm, issuer, audience, azp, expiry, iat, nonce) and the userinfo `sub` check.
 */
@Injectable()
export class OidcClient {
  private readonly logger = new Logger(OidcClient.name);
  private configuration?: Promise<client.Configuration>;

  constructor(private readonly config: AppConfig) {}

  get enabled(): boolean {
    return this.config.get('OIDC_ISSUER') !== undefined;
  }

  /**
   * Discovery runs on first use and is kept (openid-client refreshes the JWKS itself when a
   * token names an unknown key); a failed discovery is retried by the next sign-in, so a
   * provider that is down at start-up does not keep single sign-on off until a restart.
   */
  private discover(): Promise<client.Configuration> {
    if (!this.enabled) throw new AuthException(AuthErrorCode.OidcNotConfigured);
    this.configuration ??= this.runDiscovery().catch((error: unknown) => {
      this.configuration = undefined;
      this.logger.warn(`OIDC discovery failed: ${(error as Error).message}`);
      throw new AuthException(AuthErrorCode.OidcUnavailable);
    });
    return this.configuration;
  }

  private async runDiscovery(): Promise<client.Configuration> {
    const issuer = new URL(this.config.get('OIDC_ISSUER')!);
    const insecure = issuer.protocol === 'http:';
    const configuration = await client.discovery(
      issuer,
      this.config.get('OIDC_CLIENT_ID')!,
      {
        client_secret: this.config.get('OIDC_CLIENT_SECRET'),
        // Pinned: the header's `alg` never chooses the verification (no `none`, no HMAC
        // with the client secret, no algorithm the operator did not configure).
        id_token_signed_response_alg: this.config.get('OIDC_ID_TOKEN_ALG'),
      },
      client.ClientSecretBasic(this.config.get('OIDC_CLIENT_SECRET')),
      {
        // Configuration validation allows http only on a loopback host.
        ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
        timeout: DISCOVERY_TIMEOUT_SECONDS,
      },
    );
    configuration.timeout = DISCOVERY_TIMEOUT_SECONDS;
    // Without this, openid-client (like OIDC Core 3.1.3.7 allows) trusts an ID token from
    // the token endpoint on the strength of TLS alone and never checks its signature; the
    // SPEC asks for the JWKS check, and it also holds when TLS is terminated somewhere odd.
    client.enableNonRepudiationChecks(configuration);
    return configuration;
  }

  /** A fresh sign-in: where to send the browser, and what to keep until the callback. */
  async start(): Promise<{ url: string; state: string; pending: PendingSignIn }> {
    const configuration = await this.discover();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.config.get('OIDC_REDIRECT_URI')!,
      scope: this.config.get('OIDC_SCOPES'),
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, pending: { nonce, codeVerifier } };
  }

  /**
   * Exchanges the code of `callbackQuery` (the raw query string the provider sent back)
   * and validates the ID token; claims from userinfo, when the provider has it, complete
   * the ID token's (after openid-client checked they are about the same `sub`).
   */
  async finish(
    callbackQuery: string,
    state: string,
    pending: PendingSignIn,
  ): Promise<VerifiedIdentity> {
    const configuration = await this.discover();
    const currentUrl = new URL(this.config.get('OIDC_REDIRECT_URI')!);
    currentUrl.search = callbackQuery;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw new OidcRejected('no-id-token');
      let claims: Record<string, unknown> = { ...idClaims };
      if (configuration.serverMetadata().userinfo_endpoint && tokens.access_token) {
        const userInfo = await client.fetchUserInfo(
          configuration,
          tokens.access_token,
          idClaims.sub,
        );
        claims = { ...claims, ...userInfo, sub: idClaims.sub };
      }
      return { issuer: idClaims.iss, subject: idClaims.sub, claims };
    } catch (error) {
      if (error instanceof OidcRejected) throw error;
      throw new OidcRejected(describe(error));
    }
  }
}

/**
 * A short, secret-free reason for the audit entry: the error code and message of
 * oauth4webapi (which openid-client wraps as the `cause`), e.g. `OAUTH_JWT_CLAIM_COMPARISON_FAILED:
 * unexpected JWT "aud" (audience) claim value`. Never the token or its claims.
 */
function describe(error: unknown): string {
  if (error instanceof client.AuthorizationResponseError) return `provider-error:${error.error}`;
  if (error instanceof client.ResponseBodyError) return `token-endpoint:${error.error}`;
  if (!(error instanceof Error)) return 'unknown';
  const inner = error.cause instanceof Error ? error.cause : error;
  const code = (inner as Error & { code?: unknown }).code;
  const message = inner.message.slice(0, 200);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
