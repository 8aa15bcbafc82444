import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsEmail,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsPositive,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  Validate,
  ValidateIf,
  validateSync,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';

const toBoolean = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? ['1', 'true', 'yes', 'on'].includes(value.toLowerCase()) : value;
const toNumber = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;

/** Lower snake case, as role names are (see ROLE_NAME_PATTERN). */
const ROLE_NAME = /^[a-z][a-z0-9_]{1,63}$/;

/** `OIDC_ROLE_MAP`: a JSON object from group (claim value) to role name. */
@ValidatorConstraint({ name: 'oidcRoleMap' })
class OidcRoleMapConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    try {
      const parsed: unknown = JSON.parse(value);
      return (
        typeof parsed === 'object' &&
        parsed !== null &&
        !Array.isArray(parsed) &&
        Object.entries(parsed).every(
          ([group, role]) => group !== '' && typeof role === 'string' && ROLE_NAME.test(role),
        )
      );
    } catch {
      return false;
    }
  }

  defaultMessage(): string {
    return 'OIDC_ROLE_MAP must be a JSON object from group to role name, e.g. {"staff":"case_worker"}';
  }
}

/** OIDC is configured when OIDC_ISSUER is set; its other settings are then required. */
const oidcEnabled = (env: Environment): boolean => env.OIDC_ISSUER !== undefined;

/**
 * Every environment variable the service reads. Validated once at start-up so a
 * misconfigured deployment fails fast with a message naming the variable.
 * `.env.example` lists the same variables with the same defaults.
 */
export class Environment {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/verbatim';

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(200)
  DATABASE_POOL_SIZE = 10;

  /**
   * Streaming replicas of DATABASE_URL, comma-separated postgres:// URLs: lists, search,
   * stats and exports read from them (SPEC section 12). Empty: everything on the primary.
   */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/[^,\s]+(,postgres(ql)?:\/\/[^,\s]+)*$/, {
    message: 'DATABASE_REPLICA_URLS must be comma-separated postgres:// URLs',
  })
  DATABASE_REPLICA_URLS?: string;

  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// URL' })
  REDIS_URL = 'redis://127.0.0.1:6379/0';

  /**
   * A Redis Cluster's nodes, `host:port,…` (any subset; the rest is discovered). Set: every
   * Redis use runs on the cluster, and REDIS_URL only supplies credentials and TLS.
   */
  @IsOptional()
  @Matches(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, {
    message: 'REDIS_CLUSTER_NODES must be host:port pairs separated by commas',
  })
  REDIS_CLUSTER_NODES?: string;

  /**
   * On a Redis Cluster: how many durable turn buffers (each with its own hash slot)
   * conversations are spread over. Ignored on a single server (one buffer).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(1024)
  TURN_BUFFER_SHARDS = 16;

  /**
   * Keep principals and participations in memory, invalidated through Postgres NOTIFY
   * (src/core/cache). Off: every request reads them from Postgres.
   */
  @Transform(toBoolean)
  @IsBoolean()
  ACCESS_CACHE_ENABLED = true;

  /** Prefix of every Redis key; wrap it in {braces} to pin keys to one Redis Cluster slot. */
  @Matches(/^[A-Za-z0-9_{}:-]{1,64}$/, {
    message: 'REDIS_PREFIX may hold letters, digits and _{}:-',
  })
  REDIS_PREFIX = 'verbatim';

  @IsIn(['HS256', 'RS256'])
  JWT_ALGORITHM: 'HS256' | 'RS256' = 'HS256';

  @ValidateIf((env: Environment) => env.JWT_ALGORITHM === 'HS256')
  @IsString()
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters' })
  JWT_SECRET?: string;

  @ValidateIf((env: Environment) => env.JWT_ALGORITHM === 'RS256')
  @IsString({ message: 'JWT_PRIVATE_KEY (PEM) is required with RS256' })
  JWT_PRIVATE_KEY?: string;

  @ValidateIf((env: Environment) => env.JWT_ALGORITHM === 'RS256')
  @IsString({ message: 'JWT_PUBLIC_KEY (PEM) is required with RS256' })
  JWT_PUBLIC_KEY?: string;

  @Transform(toNumber)
  @IsInt()
  @Min(30)
  @Max(86400)
  ACCESS_TOKEN_TTL_SECONDS = 900;

  @Transform(toNumber)
  @IsNumber()
  @IsPositive()
  @Max(365)
  REFRESH_TOKEN_TTL_DAYS = 30;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(1000)
  LOGIN_MAX_FAILURES = 5;

  /** Fractions are allowed so tests can watch a lock expire. */
  @Transform(toNumber)
  @IsNumber()
  @IsPositive()
  @Max(1440)
  LOGIN_LOCK_MINUTES = 15;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  RATE_LIMIT_TTL_SECONDS = 60;

  @Transform(toNumber)
  @IsInt()
  @Min(1)
  RATE_LIMIT_MAX = 6000;

  /**
   * Failed authentications (no, wrong or expired token or API key) per client address per
   * RATE_LIMIT_TTL_SECONDS; beyond it the address gets 429 before any credential is checked.
   */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  AUTH_FAILURES_MAX_PER_IP = 60;

  /** Comma-separated origins, `*` for any; empty disables CORS. */
  @IsString()
  CORS_ORIGINS = '';

  /** Trust X-Forwarded-For (only behind a proxy you control). */
  @Transform(toBoolean)
  @IsBoolean()
  TRUST_PROXY = false;

  /** A socket with no traffic at all for this long is closed (Fastify connectionTimeout). */
  @Transform(toNumber)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  HTTP_CONNECTION_TIMEOUT_MS = 60_000;

  /** An idle keep-alive socket is closed after this long (above a load balancer's idle timeout). */
  @Transform(toNumber)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  HTTP_KEEP_ALIVE_TIMEOUT_MS = 65_000;

  /** The request line and headers must arrive within this long. */
  @Transform(toNumber)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  HTTP_HEADERS_TIMEOUT_MS = 20_000;

  /** A JSON body (at most 4 MiB) must arrive whole within this long; 408 otherwise. */
  @Transform(toNumber)
  @IsInt()
  @Min(200)
  @Max(600_000)
  HTTP_BODY_TIMEOUT_MS = 30_000;

  /**
   * Uploads have no overall deadline; instead every UPLOAD_RATE_WINDOW_MS must bring at
   * least this many bytes per second on average (408 otherwise).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(1024 ** 3)
  UPLOAD_MIN_BYTES_PER_SECOND = 1024;

  @Transform(toNumber)
  @IsInt()
  @Min(200)
  @Max(600_000)
  UPLOAD_RATE_WINDOW_MS = 30_000;

  /**
   * Requests served on one keep-alive socket before it is closed (0: no limit). Off by
   * default: past the limit Node answers 503 to every request a client still sends on that
   * socket, and clients that keep sending (load balancers, benchmark tools) saw 503s.
   */
  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  HTTP_MAX_REQUESTS_PER_SOCKET = 0;

  /** Open sockets the server accepts at once; more are refused (0: no limit). */
  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  HTTP_MAX_CONNECTIONS = 10_000;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** Write JSON logs to this file instead of stdout. */
  @IsOptional()
  @IsString()
  LOG_FILE?: string;

  @Transform(toBoolean)
  @IsBoolean()
  WORKERS_ENABLED = true;

  /** How long a conversation's live window (and duplicate detector) outlives its last turn. */
  @Transform(toNumber)
  @IsInt()
  @Min(60)
  @Max(7 * 86400)
  LIVE_WINDOW_TTL_SECONDS = 3600;

  /**
   * An active conversation with no new turn for this long is ended and sealed by the
   * worker's idle sweep (`endedReason: "idle"`); 0 never ends one.
   */
  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(525_600)
  CONVERSATION_IDLE_MINUTES = 120;

  /** Live streams (Server-Sent Events) one user may hold open at once, across all processes. */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(1000)
  SSE_MAX_PER_USER = 10;

  /**
   * Backstop: every open stream re-checks its caller's access this often, besides the
   * immediate re-check on each relevant invalidation (src/core/sse).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(3600)
  SSE_RECHECK_SECONDS = 30;

  /** Read notifications are deleted this many days after they were read (hourly job). */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(3650)
  NOTIFICATION_RETENTION_DAYS = 90;

  /**
   * Turns persisted per INSERT statement by the turn-persistence worker. Large batches
   * matter most with in-process workers: the drain advances one step per turn of the
   * event loop the API shares, so each step should move many turns (BENCHMARKS, P1).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(5000)
  TURN_BATCH_SIZE = 2000;

  /**
   * Statements a turn-persistence worker runs at once, each on its own connection and
   * its own conversations (a conversation always goes to the same lane).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(8)
  TURN_PERSIST_LANES = 2;

  /** Longest a buffered turn waits before a flush is scheduled. */
  @Transform(toNumber)
  @IsInt()
  @Min(10)
  @Max(10_000)
  TURN_FLUSH_DELAY_MS = 200;

  /** Buffered turns a dead worker held this long are claimed by a live one. */
  @Transform(toNumber)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  TURN_RECLAIM_IDLE_MS = 30_000;

  @Matches(/^[a-z0-9_.-]{3,64}$/i, {
    message: 'ADMIN_USERNAME must be 3-64 letters, digits, _ . -',
  })
  ADMIN_USERNAME = 'admin';

  @IsEmail()
  ADMIN_EMAIL = 'admin@verbatim.local';

  @IsOptional()
  @IsString()
  @MinLength(12, { message: 'ADMIN_PASSWORD must be at least 12 characters' })
  ADMIN_PASSWORD?: string;

  // --- Single sign-on (SPEC section 13) ------------------------------------------------

  /**
   * Off: `POST /auth/login` (and the queue board's sign-in) refuse everyone but the seeded
   * admin (ADMIN_USERNAME), who stays the break-glass account when the provider is down.
   */
  @Transform(toBoolean)
  @IsBoolean()
  PASSWORD_LOGIN = true;

  /**
   * The OpenID provider's issuer identifier (its discovery document lives below it). https,
   * or http on a loopback host for development and tests. Empty: single sign-on is off.
   */
  @IsOptional()
  @Matches(/^(https:\/\/[^\s/]+|http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?)(\/\S*)?$/, {
    message: 'OIDC_ISSUER must be an https:// URL (http:// only on localhost or 127.0.0.1)',
  })
  OIDC_ISSUER?: string;

  @ValidateIf(oidcEnabled)
  @IsString({ message: 'OIDC_CLIENT_ID is required with OIDC_ISSUER' })
  @MinLength(1)
  OIDC_CLIENT_ID?: string;

  @ValidateIf(oidcEnabled)
  @IsString({ message: 'OIDC_CLIENT_SECRET is required with OIDC_ISSUER' })
  @MinLength(1)
  OIDC_CLIENT_SECRET?: string;

  /** This service's `/api/v1/auth/oidc/callback` as the provider reaches the browser to it. */
  @ValidateIf(oidcEnabled)
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['http', 'https'] },
    { message: 'OIDC_REDIRECT_URI must be the absolute URL of /api/v1/auth/oidc/callback' },
  )
  OIDC_REDIRECT_URI?: string;

  /** Scopes asked for; must include openid. */
  @Matches(/(^|\s)openid(\s|$)/, { message: 'OIDC_SCOPES must include openid' })
  OIDC_SCOPES = 'openid email profile';

  /** The claim (ID token or userinfo) holding the user's groups; dots walk into objects. */
  @Matches(/^[A-Za-z0-9_:/.-]{1,200}$/, { message: 'OIDC_ROLE_CLAIM must be a claim name' })
  OIDC_ROLE_CLAIM = 'groups';

  /** Group → role name, JSON; the first entry whose group the user has decides the role. */
  @Validate(OidcRoleMapConstraint)
  OIDC_ROLE_MAP = '{}';

  /** Role of users in no mapped group. Empty: they are refused. */
  @IsOptional()
  @Matches(ROLE_NAME, { message: 'OIDC_DEFAULT_ROLE must be a role name' })
  OIDC_DEFAULT_ROLE?: string;

  /**
   * The one algorithm ID tokens must be signed with (asymmetric only: `none` and HMAC with
   * the client secret are never accepted).
   */
  @IsIn(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])
  OIDC_ID_TOKEN_ALG = 'RS256';

  /** How long a started sign-in (state, nonce, PKCE verifier) waits for its callback. */
  @Transform(toNumber)
  @IsInt()
  @Min(30)
  @Max(3600)
  OIDC_STATE_TTL_SECONDS = 600;

  // --- Storage and audio (SPEC section 4) ------------------------------------

  @IsIn(['local', 's3'])
  STORAGE_DRIVER: 'local' | 's3' = 'local';

  /** Root directory of the local driver; every key resolves inside it. */
  @IsString()
  @MinLength(1)
  STORAGE_LOCAL_ROOT = './.data/storage';

  /** Custom endpoint (MinIO, another S3-compatible server); empty for AWS. */
  @IsOptional()
  @Matches(/^https?:\/\//, { message: 'S3_ENDPOINT must be an http(s):// URL' })
  S3_ENDPOINT?: string;

  @ValidateIf((env: Environment) => env.STORAGE_DRIVER === 's3')
  @IsString({ message: 'S3_REGION is required with STORAGE_DRIVER=s3' })
  @MinLength(1)
  S3_REGION = 'us-east-1';

  @ValidateIf((env: Environment) => env.STORAGE_DRIVER === 's3')
  @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    message: 'S3_BUCKET is required with STORAGE_DRIVER=s3 and must be a valid bucket name',
  })
  S3_BUCKET?: string;

  /** Empty: the AWS default credential chain (environment, profile, instance role). */
  @ValidateIf((env: Environment) => env.STORAGE_DRIVER === 's3' && !!env.S3_SECRET_ACCESS_KEY)
  @IsString({ message: 'S3_ACCESS_KEY_ID is required when S3_SECRET_ACCESS_KEY is set' })
  S3_ACCESS_KEY_ID?: string;

  @ValidateIf((env: Environment) => env.STORAGE_DRIVER === 's3' && !!env.S3_ACCESS_KEY_ID)
  @IsString({ message: 'S3_SECRET_ACCESS_KEY is required when S3_ACCESS_KEY_ID is set' })
  S3_SECRET_ACCESS_KEY?: string;

  /** Path-style URLs (bucket in the path), as MinIO and most S3-compatible servers want. */
  @Transform(toBoolean)
  @IsBoolean()
  S3_FORCE_PATH_STYLE = false;

  /** An S3 connection not established within this long fails (the SDK retries it twice). */
  @Transform(toNumber)
  @IsInt()
  @Min(100)
  @Max(600_000)
  S3_CONNECT_TIMEOUT_MS = 5_000;

  /**
   * An S3 request whose socket is silent this long fails (retried twice): a hung endpoint
   * fails a request instead of holding it for ever. Also applies while a download streams,
   * so a client that reads nothing for this long is cut (it can resume with a Range).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  S3_SOCKET_TIMEOUT_MS = 30_000;

  /** Largest accepted upload in bytes (2 GiB); larger answers 413. */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(5 * 1024 ** 4)
  AUDIO_MAX_BYTES = 2 * 1024 ** 3;

  /** New uploads start `queued` for the processing engines; false starts them `uploaded`. */
  @Transform(toBoolean)
  @IsBoolean()
  AUTO_QUEUE = true;

  /** A claim not finished within this many minutes returns to `queued`. */
  @Transform(toNumber)
  @IsNumber()
  @IsPositive()
  @Max(10080)
  CLAIM_TIMEOUT_MINUTES = 30;

  /**
   * How often stale claims are returned to `queued` (a repeatable job), so a claim returns
   * at most this long after CLAIM_TIMEOUT_MINUTES; 0 turns the job off (the nightly
   * retention sweep and new claims still release them).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(60)
  CLAIM_SWEEP_SECONDS = 60;

  /** Audio of cases closed longer than this is archived by the nightly retention job. */
  @Transform(toNumber)
  @IsNumber()
  @Min(0)
  @Max(36500)
  RETENTION_ARCHIVE_DAYS = 90;

  /** When the retention job runs (cron, server time zone). */
  @IsString()
  @Matches(/^(\S+\s+){4,5}\S+$/, { message: 'RETENTION_CRON must be a cron expression' })
  RETENTION_CRON = '0 3 * * *';

  // --- Data lifecycle (SPEC section 12) -------------------------------------------

  /**
   * When the worker checks storage against the database and purges deleted cases (cron,
   * server time zone); `off` runs neither (the CLI's `storage-check` still works).
   */
  @IsString()
  @Matches(/^(off|(\S+\s+){4,5}\S+)$/, {
    message: 'MAINTENANCE_CRON must be a cron expression or off',
  })
  MAINTENANCE_CRON = '30 3 * * *';

  /** Audio and turns of cases deleted longer ago than this are purged, unless held. */
  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(36500)
  CASE_PURGE_DAYS = 30;

  /** When the worker writes a backup archive (cron); empty: no scheduled backups. */
  @IsOptional()
  @IsString()
  @Matches(/^(\S+\s+){4,5}\S+$/, { message: 'BACKUP_SCHEDULE must be a cron expression' })
  BACKUP_SCHEDULE?: string;

  /** Where scheduled backups are written. */
  @IsString()
  @MinLength(1)
  BACKUP_DIR = './.data/backups';

  /** Scheduled backup archives kept; older ones are deleted after a successful backup. */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(1000)
  BACKUP_KEEP = 7;

  // --- Signing and audit checkpoints (SPEC section 13) ---------------------------

  /**
   * Ed25519 private key (PKCS#8 PEM) that signs audit checkpoints. Sensitive. Empty: one is
   * generated once into KEYS_DIR. Never stored in the database.
   */
  @IsOptional()
  @IsString()
  @Matches(/-----BEGIN PRIVATE KEY-----/, {
    message: 'SIGNING_KEY_PEM must be a PKCS#8 PEM private key (Ed25519)',
  })
  SIGNING_KEY_PEM?: string;

  /** Where the generated signing key (mode 0600) and published public keys live. */
  @IsString()
  @MinLength(1)
  KEYS_DIR = './.data/keys';

  /** How often the worker signs a checkpoint of the audit chain's head. */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(10080)
  AUDIT_CHECKPOINT_MINUTES = 60;

  // --- Signed case exports (SPEC section 13) ------------------------------------

  /** A finished export bundle is downloadable this long, then removed from storage. */
  @Transform(toNumber)
  @IsNumber()
  @IsPositive()
  @Max(8760)
  EXPORT_TTL_HOURS = 72;

  /** How often the worker removes expired export bundles from storage. */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(1440)
  EXPORT_SWEEP_MINUTES = 15;

  // --- Outgoing webhooks (SPEC section 11) -------------------------------------------

  /**
   * Addresses or CIDRs (comma-separated) a webhook may reach although they are loopback,
   * private, link-local or cloud metadata, e.g. `127.0.0.1` for a receiver on this host.
   */
  @IsString()
  @Matches(/^[0-9a-fA-F.:/,\s]*$/, {
    message: 'WEBHOOK_ALLOWED_HOSTS must be comma-separated IP addresses or CIDRs',
  })
  WEBHOOK_ALLOWED_HOSTS = '';

  /**
   * Delays before the retries of a failed delivery (SPEC section 11: 8 attempts over about a
   * day). Comma-separated durations with a unit (`ms`, `s`, `m`, `h`); tests shorten them.
   */
  @Matches(/^\s*\d+(ms|s|m|h)(\s*,\s*\d+(ms|s|m|h))*\s*$/, {
    message: 'WEBHOOK_RETRY_DELAYS must be comma-separated durations such as 5s,5m,2h',
  })
  WEBHOOK_RETRY_DELAYS = '5s,5m,30m,2h,5h,10h,10h';

  /** How long one delivery attempt may take before it counts as failed. */
  @Transform(toNumber)
  @IsInt()
  @Min(100)
  @Max(60_000)
  WEBHOOK_TIMEOUT_MS = 10_000;

  /**
   * Delivery jobs one worker process runs at once (each sends up to 100 deliveries). They
   * wait on receivers and the database, not the CPU: 64 kept the first-attempt p99 under
   * a second in bench:webhooks where 16 let a backlog build (BENCHMARKS.md, P12).
   */
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(500)
  WEBHOOK_CONCURRENCY = 64;
}

export function validateEnvironment(raw: Record<string, unknown>): Environment {
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ''));
  const env = plainToInstance(Environment, cleaned, { exposeDefaultValues: true });
  const errors = validateSync(env, { whitelist: false, forbidUnknownValues: false });
  if (errors.length > 0) {
    const lines = errors.flatMap((e) =>
      Object.values(e.constraints ?? {}).map((message) => `  - ${e.property}: ${message}`),
    );
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return env;
}
