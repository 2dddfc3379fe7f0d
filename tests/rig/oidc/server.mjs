// Tokendesk test rig: a real oidc-provider on 127.0.0.1 plus test-only admin endpoints under /__rig/.
// stdout carries exactly one line, {"issuer": ...}, once listening; everything else goes to stderr.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';

// oidc-provider prints its NOTICEs with console.info (stdout); keep stdout for the ready line only.
console.log = console.error;
console.info = console.error;
// Imported only after the console is redirected, so import-time notices go to stderr too.
const { default: Provider, errors } = await import('oidc-provider');
// The memory adapter keeps its newest 1,000 entries, about 140 grants (each is a session, interactions, a code and
// tokens); older grants vanish and their refresh tokens turn invalid_grant. bench/storm.py seeds up to 1,000.
const { default: LRU } = await import('oidc-provider/lib/helpers/lru.js');
const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
const adapterStore = new LRU({ maxSize: 200_000 });

const REDIRECT = 'http://127.0.0.1/callback';
const COMMON = {
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid email profile offline_access',
  application_type: 'native',
};
const clients = [
  { ...COMMON, client_id: 'native-rotating', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT] },
  { ...COMMON, client_id: 'native-static', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT] },
  {
    ...COMMON, client_id: 'native-localhost', token_endpoint_auth_method: 'none',
    redirect_uris: ['http://localhost/callback'],
  },
  {
    ...COMMON, client_id: 'confidential-basic', client_secret: 'rig-secret-basic-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT],
  },
  {
    ...COMMON, client_id: 'confidential-post', client_secret: 'rig-secret-post-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_post', redirect_uris: [REDIRECT],
  },
  {
    // RFC 8628: signs in on another device (also by browser, so the same client can fall back).
    ...COMMON, client_id: 'native-device', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT],
    grant_types: [...COMMON.grant_types, 'urn:ietf:params:oauth:grant-type:device_code'],
  },
];
// Servers that match redirect URIs exactly (Glewlwyd, Slack, many Keycloak setups): a 'web' client, because
// oidc-provider lets 'native' ones use any loopback port. The port is chosen free by tests/rig/provider.py.
const EXACT_PORT = Number(process.env.RIG_EXACT_PORT || 0);
if (EXACT_PORT) {
  clients.push({
    ...COMMON, application_type: 'web', client_id: 'web-exact-port', token_endpoint_auth_method: 'none',
    redirect_uris: [`http://127.0.0.1:${EXACT_PORT}/cb/exact`],
  });
}
// A public client this server will not let revoke (some servers allow revocation to confidential clients only).
const NO_REVOKE = 'native-no-revoke';
clients.push({ ...COMMON, client_id: NO_REVOKE, token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT] });
const ROTATING = new Set(['native-rotating', 'native-localhost', 'confidential-basic']);

// Fresh signing key per run: nothing persisted, the JWKS endpoint serves it.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

// RIG_PRESET=keycloak|okta|auth0|gitlab imitates that server, so its preset can run end to end: HTTPS (with the
// certificate in TLS_CERT/TLS_KEY), the issuer where the preset expects it (under /realms/rig, under
// /oauth2/default, or with a trailing slash), its endpoint paths, and refresh tokens without prompt=consent.
const PRESETS = {
  keycloak: {
    prefix: '/realms/rig',
    routes: {
      authorization: '/protocol/openid-connect/auth',
      token: '/protocol/openid-connect/token',
      revocation: '/protocol/openid-connect/revoke',
      userinfo: '/protocol/openid-connect/userinfo',
      jwks: '/protocol/openid-connect/certs',
    },
  },
  okta: {
    prefix: '/oauth2/default',
    routes: {
      authorization: '/v1/authorize', token: '/v1/token', revocation: '/v1/revoke', userinfo: '/v1/userinfo',
      jwks: '/v1/keys',
    },
  },
  gitlab: {
    prefix: '',
    routes: {
      authorization: '/oauth/authorize', token: '/oauth/token', revocation: '/oauth/revoke', userinfo: '/oauth/userinfo',
      jwks: '/oauth/discovery/keys',
    },
  },
  auth0: {
    prefix: '',
    issuerSuffix: '/',
    routes: {
      authorization: '/authorize', token: '/oauth/token', revocation: '/oauth/revoke', userinfo: '/userinfo',
      jwks: '/.well-known/jwks.json',
    },
  },
};
const preset = PRESETS[process.env.RIG_PRESET ?? ''] ?? { prefix: '', routes: {} };
const TOKEN_PATH = preset.routes.token ?? '/token';
const REVOCATION_PATH = preset.routes.revocation ?? '/token/revocation';

const tls = process.env.TLS_CERT
  ? { cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) }
  : null;
const server = tls ? createTlsServer(tls) : createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}${preset.prefix}${preset.issuerSuffix ?? ''}`;

const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, adapterStore),
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomUUID()] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@example.test`, email_verified: true, name: `Rig User ${sub}` };
      },
    };
  },
  responseTypes: ['code'],
  ttl: { AccessToken: 300, IdToken: 300, RefreshToken: 86400 },
  // Same as the default, stated so the rig does not silently change with a future default.
  async issueRefreshToken(_ctx, client, code) {
    if (process.env.RIG_PRESET) return client.grantTypeAllowed('refresh_token');  // Keycloak does by default
    return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  },
  rotateRefreshToken: (ctx) => ROTATING.has(ctx.oidc.client.clientId),
  pkce: { required: () => true },
  routes: preset.routes,
  // Under the issuer's path too, so every page of the sign-in stays below the mount point.
  interactions: { url: (_ctx, interaction) => `${preset.prefix}/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: {
      enabled: true,
      async allowedPolicy(_ctx, client, token) {
        if (client.clientId === NO_REVOKE) throw new errors.UnauthorizedClient('only confidential clients may revoke');
        if (token.clientId === client.clientId) return true;  // the rest is oidc-provider's default rule
        if (client.clientAuthMethod === 'none') return false;
        throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
      },
    },
    userinfo: { enabled: true },
  },
});

const zero = () => ({
  token: { authorization_code: 0, refresh_token: 0 }, token_errors: {}, token_requests: 0, revocation: 0,
  client_auth: {},
});
let stats = zero();
// Every secret value the token endpoint received or issued, so leak tests can search for each of them.
const SECRET_PARAMS = ['code', 'code_verifier', 'client_secret', 'refresh_token'];
const SECRET_ANSWERS = ['access_token', 'refresh_token', 'id_token'];
const noneSeen = () => Object.fromEntries([...new Set([...SECRET_PARAMS, ...SECRET_ANSWERS])].map((k) => [k, []]));
let seen = noneSeen();
function remember(ctx) {
  // The raw form: oidc-provider keeps client_secret out of its params.
  const form = { ...(ctx.oidc?.body ?? {}), ...(ctx.oidc?.params ?? {}) };
  for (const key of SECRET_PARAMS) if (form[key]) seen[key].push(String(form[key]));
  const basic = /^Basic (.+)$/i.exec(ctx.get?.('authorization') ?? '');
  // How the client authenticated: oidc-provider accepts basic and post alike, so tests look here.
  const method = basic ? 'client_secret_basic' : form.client_secret ? 'client_secret_post' : 'none';
  stats.client_auth[method] = (stats.client_auth[method] ?? 0) + 1;
  if (basic) {
    const pair = Buffer.from(basic[1], 'base64').toString();
    seen.client_secret.push(decodeURIComponent(pair.slice(pair.indexOf(':') + 1).replace(/\+/g, ' ')));
  }
  const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
  for (const key of SECRET_ANSWERS) if (body[key]) seen[key].push(String(body[key]));
}
let fault = { status: 0, count: 0, retryAfter: null, html: false, error: 'temporarily_unavailable' };
// Hold back the next token answers after oidc-provider made them (a refresh token already rotated), until
// /__rig/release: a client killed meanwhile never sees its new refresh token.
let hold = { count: 0, held: [], waiters: [] };
function holdAnswer(res) {
  const end = res.end.bind(res);
  res.end = (...args) => {
    hold.held.push(() => end(...args));
    for (const wake of hold.waiters.splice(0)) wake();
  };
}
const grantIds = new Set();

provider.on('grant.success', (ctx) => {
  const gty = ctx.oidc.params.grant_type;
  stats.token[gty] = (stats.token[gty] ?? 0) + 1;
  remember(ctx);
});
provider.on('grant.error', (ctx, err) => {
  remember(ctx);
  const code = err.error ?? 'server_error';
  stats.token_errors[code] = (stats.token_errors[code] ?? 0) + 1;
});
for (const event of ['grant.saved', 'authorization_code.saved', 'refresh_token.saved', 'access_token.saved']) {
  provider.on(event, (model) => { if (model.grantId || model.jti) grantIds.add(model.grantId ?? model.jti); });
}
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error', err));

async function revokeAll() {
  const ids = [...grantIds];
  grantIds.clear();
  await Promise.all(ids.flatMap((id) => [
    provider.AccessToken.revokeByGrantId(id),
    provider.RefreshToken.revokeByGrantId(id),
    provider.AuthorizationCode.revokeByGrantId(id),
    provider.Grant.adapter.destroy(id),
  ]));
  return ids.length;
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const providerHandler = provider.callback();
server.on('request', (req, res) => {
  // Mounted under the issuer's path: oidc-provider reads the mount point from originalUrl.
  if (preset.prefix && req.url.startsWith(preset.prefix)) {
    req.originalUrl = req.url;
    req.url = req.url.slice(preset.prefix.length) || '/';
  }
  const url = new URL(req.url, 'http://rig.invalid');
  if (url.pathname.startsWith('/__rig/')) {
    req.resume();
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /__rig/stats') return sendJson(res, 200, stats);
    if (route === 'GET /__rig/seen') return sendJson(res, 200, seen);
    if (route === 'POST /__rig/reset') {
      stats = zero(); seen = noneSeen();
      hold.count = 0;
      for (const finish of hold.held.splice(0)) finish();
      return sendJson(res, 200, {});
    }
    if (route === 'POST /__rig/revoke-all') {
      return revokeAll().then((n) => sendJson(res, 200, { revoked: n }), (e) => sendJson(res, 500, { error: String(e) }));
    }
    if (route === 'POST /__rig/hold-token') {
      hold.count = Number(url.searchParams.get('count') ?? 1);
      return sendJson(res, 200, {});
    }
    if (route === 'GET /__rig/held') {
      // Long poll: answers once an answer is held (or at once if one is).
      const reply = () => sendJson(res, 200, { held: hold.held.length });
      if (hold.held.length > 0) return reply();
      hold.waiters.push(reply);
      return undefined;
    }
    if (route === 'POST /__rig/release') {
      const n = hold.held.length;
      hold.count = 0;
      for (const finish of hold.held.splice(0)) finish();
      return sendJson(res, 200, { released: n });
    }
    if (route === 'POST /__rig/fail-token') {
      const q = url.searchParams;
      fault = {
        status: Number(q.get('status') ?? 503),
        count: Number(q.get('count') ?? 1),
        retryAfter: q.get('retry_after'),
        html: q.get('body') === 'html',
        error: q.get('error') ?? 'temporarily_unavailable',
      };
      return sendJson(res, 200, {});
    }
    return sendJson(res, 404, { error: 'unknown rig endpoint' });
  }
  if (req.method === 'POST' && url.pathname === TOKEN_PATH) {
    stats.token_requests += 1;
    if (hold.count > 0) {
      hold.count -= 1;
      holdAnswer(res);
    }
    if (fault.count > 0) {
      fault.count -= 1;
      req.resume();
      const headers = { 'cache-control': 'no-store' };
      if (fault.retryAfter !== null) headers['retry-after'] = fault.retryAfter;
      if (fault.html) {
        res.writeHead(fault.status, { ...headers, 'content-type': 'text/html; charset=utf-8' });
        return res.end('<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>');
      }
      res.writeHead(fault.status, { ...headers, 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: fault.error }));
    }
  }
  if (req.method === 'POST' && url.pathname === REVOCATION_PATH) stats.revocation += 1;
  return providerHandler(req, res);
});

process.on('SIGTERM', () => process.exit(0));
// The parent holds our stdin open; EOF means it died without stop(), so do not linger as an orphan.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGINT', () => process.exit(0));
process.stdout.write(`{"issuer": ${JSON.stringify(issuer)}}\n`);
