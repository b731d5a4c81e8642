import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DURATION } from '../specs/duration';

const port = z.coerce.number().int().min(1).max(65535);

/**
 * Every setting the factory reads from the environment, in one schema, so a typo
 * or a bad value fails at start with the variable's name rather than deep in a run.
 */
export const envSchema = z.object({
  FACTORY_DATA_DIR: z.string().min(1).default(path.resolve(__dirname, '../../.factory')),
  FACTORY_SHARED_DIR: z.string().min(1).default(path.resolve(__dirname, '../../../shared')),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_CLI: z.string().optional(),
  /** Mutual TLS towards Temporal: this process's certificate and key (PEM files), and the CA that signed the frontend's. */
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  /** The name the frontend's certificate carries, where it is not the address's host. */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** Where `factory up --cluster` keeps Temporal's persistence and visibility databases; unset: the factory's own PostgreSQL server. */
  TEMPORAL_DATABASE_URL: z.string().url().optional(),
  /** Payload encryption keys, `<id>:<base64 of 32 bytes>`, comma-separated, the first encrypting (payloads/keys.ts); or a file of them. */
  FACTORY_PAYLOAD_KEYS: z.string().optional(),
  FACTORY_PAYLOAD_KEYS_FILE: z.string().min(1).optional(),
  /** The codec endpoint the Web UI decrypts payloads through (payloads/main.ts). */
  CODEC_PORT: port.default(8087),
  /** The codec endpoint's listen address: loopback unless configured; any other address needs CODEC_TOKENS. */
  CODEC_HOST: z.string().min(1).default('127.0.0.1'),
  /** Comma-separated bearer tokens the codec endpoint accepts besides requests from the Web UI's origin; empty: loopback browsers only. */
  CODEC_TOKENS: z.string().default(''),
  /** The Web UI's origins as browsers reach it (comma-separated); unset: http://<Temporal's host>:<TEMPORAL_UI_PORT> and http://localhost:<that port>. */
  CODEC_UI_ORIGINS: z.string().optional(),
  DATABASE_URL: z.string().url().optional(),
  EMBEDDED_PG_PORT: port.default(54329),
  /** The embedded PostgreSQL's password, set when its data dir is first made. */
  EMBEDDED_PG_PASSWORD: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only (it goes into a URL)').default('postgres'),
  S3_ENDPOINT: z.string().url().optional(),
  S3_PORT: port.default(7070),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
    .default('ai-factory'),
  S3_ACCESS_KEY_ID: z.string().min(1).default('factory'),
  S3_SECRET_ACCESS_KEY: z.string().min(1).default('factory-secret-key'),
  VERSITYGW: z.string().optional(),
  /** The Worker Deployment every pool of the factory belongs to (Temporal Worker Versioning). */
  FACTORY_DEPLOYMENT: z.string().min(1).default('ai-factory'),
  /** This worker's build in that deployment; unset: a digest of its compiled code (workers/deployment.ts). */
  FACTORY_BUILD_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-" only').optional(),
  /** The edge gateway's HTTP port: devices fetch their signed manifests and models and send their reports there. */
  EDGE_GATEWAY_PORT: port.default(8088),
  /** The gateway's listen address; every route but /healthz needs a device token, so devices on other hosts may reach it. */
  EDGE_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  /** Where the CLI and agents reach the gateway; unset: this machine's EDGE_GATEWAY_PORT. */
  FACTORY_EDGE_GATEWAY_URL: z.string().url().optional(),
  /** The key the gateway signs device manifests with (Ed25519 PEM, 0600, made on first start); only the gateway reads it. */
  FACTORY_EDGE_KEY_FILE: z.string().min(1).optional(),
  /** How long a signed manifest is good for: a device kept from its gateway longer refuses one replayed to it. */
  EDGE_MANIFEST_TTL: z.string().regex(DURATION, 'a duration such as 7d or 12h').default('7d'),
  /** The GPUs a training worker hands out, one training each: a count ("2") or device indexes ("0,2"); unset: what nvidia-smi lists; "0": none. */
  FACTORY_GPUS: z.string().regex(/^(\d+|\d+(,\d+)+)$/, 'a count such as 2, or device indexes such as 0,2').optional(),
  /** Where a worker serves Prometheus metrics (/metrics); off when unset. */
  METRICS_PORT: port.optional(),
  SERVING_PORT: port.default(8080),
  /** The prediction service's listen address: loopback unless configured; any other address needs SERVING_TOKENS. */
  SERVING_HOST: z.string().min(1).default('127.0.0.1'),
  /** Comma-separated bearer tokens accepted by the prediction service; empty means no authentication. */
  SERVING_TOKENS: z.string().default(''),
  SERVING_MAX_BATCH: z.coerce.number().int().min(1).max(10_000).default(64),
  /**
   * How long a request waits for others to share its ONNX Runtime call. 0 waits for no timer: the batch is what arrived
   * in the same turn of the event loop, which under load is as large as a 1 ms wait gathers, costs less CPU per
   * request (benchmarks/serving-runs.txt, runs 12 and 13: 58 vs 74 µs) and adds no latency when traffic is light.
   */
  SERVING_MAX_DELAY_MS: z.coerce.number().min(0).max(100).default(0),
  SERVING_POLL_MS: z.coerce.number().int().min(100).default(10_000),
  /** How often a replica reports the versions it serves; rollouts wait on these reports. */
  SERVING_HEARTBEAT_MS: z.coerce.number().int().min(100).default(2_000),
  /** The address other services reach this replica at, as reported to the registry. */
  SERVING_URL: z.string().url().optional(),
  /** Prediction-log rows held in memory at most; beyond this they are dropped and counted, never waited for. */
  SERVING_LOG_BUFFER: z.coerce.number().int().min(0).default(50_000),
  /**
   * On one host, answers come first: the processes the factory starts for background work (Temporal, the worker pools,
   * the S3 server, approvals, intake, the edge gateway) run at this nice value, serving replicas at the default, so a
   * retrain, an evaluation or a rollout's bookkeeping takes the CPU that answers leave. 0 runs everything alike.
   */
  FACTORY_BACKGROUND_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** The data intake's HTTP port (POST /v1/models/<model>/batches). */
  INTAKE_PORT: port.default(8090),
  /** The intake's listen address: loopback unless configured; any other address needs INTAKE_TOKENS. */
  INTAKE_HOST: z.string().min(1).default('127.0.0.1'),
  /** The largest batch the intake takes, over HTTP or from the landing area; larger HTTP bodies are refused while they stream in (413). */
  INTAKE_MAX_BYTES: z.coerce.number().int().min(1).default(256 * 1024 * 1024),
  /** The most rows of a CSV batch over HTTP, counted as it streams in. */
  INTAKE_MAX_ROWS: z.coerce.number().int().min(1).default(5_000_000),
  /** Comma-separated bearer tokens for the intake; empty means no authentication. */
  INTAKE_TOKENS: z.string().default(''),
  /** How often the intake looks for files under s3://<bucket>/incoming/<model>/. */
  INTAKE_POLL_MS: z.coerce.number().int().min(100).default(5_000),
  /** The approvals service's HTTP port: Slack's interactivity requests (/slack/events) and the CLI's decisions (/v1/...). */
  APPROVALS_PORT: port.default(8085),
  /** The approvals service's listen address: loopback unless Slack must reach it directly (usually a reverse proxy does). */
  APPROVALS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Where the CLI reaches the approvals service; unset: this machine's APPROVALS_PORT. */
  FACTORY_APPROVALS_URL: z.string().url().optional(),
  /** The approvals service's Ed25519 signing key (PEM, 0600); created on its first start. Only that service reads it. */
  FACTORY_APPROVALS_KEY_FILE: z.string().min(1).optional(),
  /** The approvals service's public key(s), hex, comma-separated while a key is rotated; unset: the .pub file beside the signing key. */
  FACTORY_APPROVALS_PUBLIC_KEY: z.string().optional(),
  /** The Slack app's bot token (xoxb-…): posts approval cards and answers clicks. Unset: no Slack, decisions by CLI. */
  SLACK_BOT_TOKEN: z.string().min(1).optional(),
  /** The Slack app's signing secret: the approvals service verifies every Slack request with it. */
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  /** Slack's Web API base URL (tests point it at a local stand-in). */
  SLACK_API_URL: z.string().url().default('https://slack.com/api/'),
  /** Chat webhook (Slack incoming-webhook JSON) told about rollbacks; unset: log and audit trail only. */
  FACTORY_NOTIFY_URL: z.string().url().optional(),
  /** Electricity prices for training cost: a CSV curve's path or a JSON feed's URL (energy/README.md); unset, the synthetic sample curve. */
  FACTORY_PRICE_FEED: z.string().min(1).optional(),
  /** The CLI caller's personal token (fct_…), taken before the credentials file: for CI and scripts that have no home for one. */
  FACTORY_TOKEN: z.string().optional(),
  /** Where the CLI reads its token; unset, <FACTORY_DATA_DIR>/credentials/token. */
  FACTORY_CREDENTIALS_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type FactoryEnv = z.infer<typeof envSchema>;

export function loadEnv(source: NodeJS.ProcessEnv = process.env): FactoryEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Where the embedded services keep their state, under the data dir. */
export function dataPaths(env: FactoryEnv) {
  const root = path.resolve(env.FACTORY_DATA_DIR);
  return {
    root,
    temporalDb: path.join(root, 'temporal', 'temporal.sqlite'),
    postgres: path.join(root, 'postgres'),
    s3: path.join(root, 's3'),
    logs: path.join(root, 'logs'),
    batches: path.join(root, 'batches'),
    work: path.join(root, 'work'),
    approvalsKey: path.join(root, 'approvals', 'signing-key.pem'),
    edgeKey: path.join(root, 'edge', 'manifest-key.pem'),
  };
}

/** A file of the shipped data (shared/data/<relative>, each with its README) as text, or an error saying where it was looked for. */
export function sharedText(env: FactoryEnv, relative: string): string {
  const file = path.join(env.FACTORY_SHARED_DIR, 'data', relative);
  if (!fs.existsSync(file)) throw new Error(`shipped data not found at ${file}; set FACTORY_SHARED_DIR to the folder holding data/${relative.split('/')[0]}/`);
  return fs.readFileSync(file, 'utf8');
}


/** The embedded PostgreSQL's URL, for the factory's database. */
export function embeddedPostgresUrl(env: FactoryEnv): string {
  return `postgres://postgres:${env.EMBEDDED_PG_PASSWORD}@127.0.0.1:${env.EMBEDDED_PG_PORT}/factory`;
}

/** Where each service is reached: the configured one, or the project's embedded default. */
export function connections(env: FactoryEnv) {
  return {
    temporalAddress: env.TEMPORAL_ADDRESS,
    namespace: env.TEMPORAL_NAMESPACE,
    temporalUi: `http://${env.TEMPORAL_ADDRESS.split(':')[0]}:${env.TEMPORAL_UI_PORT}`,
    databaseUrl: env.DATABASE_URL ?? embeddedPostgresUrl(env),
    s3Endpoint: env.S3_ENDPOINT ?? `http://127.0.0.1:${env.S3_PORT}`,
    approvalsUrl: env.FACTORY_APPROVALS_URL ?? `http://127.0.0.1:${env.APPROVALS_PORT}`,
    edgeGatewayUrl: env.FACTORY_EDGE_GATEWAY_URL ?? `http://127.0.0.1:${env.EDGE_GATEWAY_PORT}`,
  };
}

/** A workflow's page in the Temporal Web UI. */
export function workflowUrl(env: FactoryEnv, workflowId: string): string {
  return `${connections(env).temporalUi}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`;
}
