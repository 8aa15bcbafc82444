// A real OpenID provider (the `oidc-provider` package, ESM only) for the OIDC specs, run
// with plain `node` in a child process because Jest runs CommonJS. Started by
// test/support/oidc-provider.ts with a JSON argument { clientId, clientSecret, redirectUri };
// prints one line { issuer } once it listens on a loopback port.
//
// Test-only parts, besides the provider: `PUT /__accounts/<sub>` sets the claims of an
// account (email, email_verified, name, preferred_username, groups), and the interaction
// page signs in the account named by the authorization request's `login_hint` and grants
// the requested scopes without a form: what a user would click, done by the provider.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const { clientId, clientSecret, redirectUri } = JSON.parse(process.argv[2]);
const accounts = new Map();

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomUUID()] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const claims = accounts.get(sub);
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
});

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = details.params.login_hint;
  if (!accountId || !accounts.has(accountId)) {
    res.writeHead(400).end('login_hint names no account');
    return;
  }
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const handle = provider.callback();
server.on('request', (req, res) => {
  const url = new URL(req.url, issuer);
  if (req.method === 'PUT' && url.pathname.startsWith('/__accounts/')) {
    readJson(req).then((claims) => {
      accounts.set(decodeURIComponent(url.pathname.slice('/__accounts/'.length)), claims);
      res.writeHead(204).end();
    });
    return;
  }
  if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) {
    finishInteraction(req, res).catch((error) => {
      res.writeHead(500).end(String(error));
    });
    return;
  }
  handle(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
