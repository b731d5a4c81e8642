import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { logger } from '../config/logger';
import { temporalTls } from '../config/temporal-connection';
import { clientTlsEnv, type ClusterCerts } from './certs';
import { ensureNamespace } from './temporal-namespace';
import { ensureTool } from './tools';
import { freePort, freePortIn, isPortOpen, reused, startProcess, stopProcess, waitFor, type ServiceHandle } from './process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
/** The one config file every service of the cluster reads, here and in docker-compose.yml. */
export const CLUSTER_CONFIG = path.join(ROOT, 'temporal/cluster.yaml');
export const DYNAMIC_CONFIG = path.join(ROOT, 'temporal/dynamic-config.yaml');
/** Each a process of its own, as each would be a deployment of its own on several hosts. */
export const CLUSTER_SERVICES = ['history', 'matching', 'worker', 'frontend'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

export interface ClusterOptions {
  /** The frontend's host:port: what workers and clients dial. */
  address: string;
  uiPort: number;
  namespace: string;
  /** Temporal's persistence database on a PostgreSQL server (clusterDatabases): it and the visibility one are made there if missing. */
  databaseUrl: string;
  logsDir: string;
  /** Mutual TLS on every link of the cluster and towards its clients; none: plain gRPC. */
  certs?: ClusterCerts;
  /** The factory's codec endpoint, for the Web UI to show encrypted payloads. */
  codecUrl?: string;
}

export interface TemporalCluster extends ServiceHandle {
  uiUrl: string;
  /** Stops the four services and starts them again on the same databases: a whole-cluster outage and recovery. */
  restart(): Promise<void>;
  /** The service processes (and the UI server) this call started, by name. */
  pids(): Record<string, number | undefined>;
}

/** The persistence and visibility databases a cluster keeps on the server: the URL's database, or `temporal`, and the same with `_visibility`. */
export function clusterDatabases(databaseUrl: string) {
  const url = new URL(databaseUrl);
  const persistence = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'temporal';
  return { persistence, visibility: `${persistence}_visibility`, server: url };
}

/** Creates both databases if missing and brings their schemas to this server release's, with Temporal's own schema tool. */
async function setupSchemas(databaseUrl: string): Promise<void> {
  const { persistence, visibility, server } = clusterDatabases(databaseUrl);
  const admin = new URL(server.toString());
  admin.pathname = '/postgres';
  const pg = new PgClient({ connectionString: admin.toString() });
  await pg.connect();
  try {
    for (const db of [persistence, visibility]) {
      const found = await pg.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (found.rowCount === 0) await pg.query(`CREATE DATABASE "${db.replace(/"/g, '""')}"`);
    }
  } finally {
    await pg.end();
  }
  const tool = await ensureTool('temporal-sql-tool');
  // The password goes by environment, not argv, so no process listing shows it.
  const env = {
    ...process.env,
    SQL_PLUGIN: 'postgres12',
    SQL_HOST: server.hostname,
    SQL_PORT: server.port || '5432',
    SQL_USER: decodeURIComponent(server.username),
    SQL_PASSWORD: decodeURIComponent(server.password),
  };
  for (const [db, schema] of [
    [persistence, 'postgresql/v12/temporal'],
    [visibility, 'postgresql/v12/visibility'],
  ]) {
    // setup-schema only records version 0.0 where nothing is there yet; update-schema then applies every later version, and nothing once current.
    await run(tool, ['--db', db, 'setup-schema', '-v', '0.0'], { env });
    await run(tool, ['--db', db, 'update-schema', '--schema-name', schema], { env });
  }
}

const connect = (address: string, certs?: ClusterCerts) => Connection.connect({ address, tls: certs && temporalTls(clientTlsEnv(certs)), connectTimeout: 2000 });

async function frontendServes(address: string, certs?: ClusterCerts): Promise<boolean> {
  const connection = await connect(address, certs);
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * A Temporal cluster from the project's own build of the server
 * (stack/tools.ts): the schemas set up in PostgreSQL by the schema tool, the
 * frontend, history, matching and worker services as four processes on one
 * config file (temporal/cluster.yaml), the namespace and search attributes
 * registered, and Temporal's UI server. A frontend already answering at the
 * address is reused, as a second `factory up --cluster` finds the first's.
 */
export async function startTemporalCluster(o: ClusterOptions): Promise<TemporalCluster> {
  const [host, portText] = o.address.split(':');
  const uiUrl = `http://${host}:${o.uiPort}`;
  const log = logger.child({ component: 'temporal-cluster' });
  if (await isPortOpen(Number(portText), host)) {
    await waitFor(`Temporal at ${o.address}`, () => frontendServes(o.address, o.certs), 30_000);
    return { ...reused('temporal', o.address), uiUrl, pids: () => ({}), restart: () => Promise.reject(new Error('cannot restart a Temporal cluster this process did not start')) };
  }
  const started = Date.now();
  await setupSchemas(o.databaseUrl);
  log.info({ ms: Date.now() - started }, 'temporal schemas ready');
  const { persistence, visibility, server } = clusterDatabases(o.databaseUrl);
  const binary = await ensureTool('temporal-server');
  // The frontend's port is the address; the others only the cluster itself needs, found through its membership table,
  // which keeps membership ports as smallint.
  const port = async () => String(await freePort());
  const membershipPort = async () => String(await freePortIn(20_000, 32_000));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    TEMPORAL_DB_HOST: server.hostname,
    TEMPORAL_DB_PORT: server.port || '5432',
    TEMPORAL_DB_USER: decodeURIComponent(server.username),
    TEMPORAL_DB_PASSWORD: decodeURIComponent(server.password),
    TEMPORAL_DB_NAME: persistence,
    TEMPORAL_VISIBILITY_DB_NAME: visibility,
    TEMPORAL_DYNAMIC_CONFIG: DYNAMIC_CONFIG,
    TEMPORAL_BIND_IP: host,
    TEMPORAL_BROADCAST_ADDRESS: host,
    TEMPORAL_FRONTEND_PORT: portText,
    TEMPORAL_FRONTEND_HTTP_PORT: await port(),
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT: await membershipPort(),
    TEMPORAL_HISTORY_PORT: await port(),
    TEMPORAL_HISTORY_MEMBERSHIP_PORT: await membershipPort(),
    TEMPORAL_MATCHING_PORT: await port(),
    TEMPORAL_MATCHING_MEMBERSHIP_PORT: await membershipPort(),
    TEMPORAL_WORKER_PORT: await port(),
    TEMPORAL_WORKER_MEMBERSHIP_PORT: await membershipPort(),
    ...(o.certs && { TEMPORAL_TLS_SERVER_CERT: o.certs.serverCert, TEMPORAL_TLS_SERVER_KEY: o.certs.serverKey, TEMPORAL_TLS_SERVER_CA: o.certs.ca, TEMPORAL_TLS_SERVER_NAME: o.certs.serverName }),
  };
  const children = new Map<string, ReturnType<typeof startProcess>>();
  const frontendLog = path.join(o.logsDir, 'temporal-frontend.log');
  const startService = (service: ClusterService) => {
    const log = path.join(o.logsDir, `temporal-${service}.log`);
    children.set(service, startProcess(binary, ['--config-file', CLUSTER_CONFIG, '--allow-no-auth', 'start', '--service', service], log, env));
    return log;
  };
  const startServices = async () => {
    // On a new schema every service writes the cluster's metadata as it starts, and one that loses that race exits
    // ("Failed to apply cluster metadata"; seen for the worker service, whose loss stalls Worker Deployments):
    // history writes it alone, and the others start once it serves.
    const historyLog = startService('history');
    await waitFor('Temporal history service', () => isPortOpen(Number(env.TEMPORAL_HISTORY_PORT), host), 60_000, children.get('history'), historyLog);
    for (const service of CLUSTER_SERVICES) if (service !== 'history') startService(service);
    await waitFor('Temporal frontend', () => frontendServes(o.address, o.certs), 120_000, children.get('frontend'), frontendLog);
    // Should one still have lost that race, it starts again now that the metadata is there.
    for (const service of CLUSTER_SERVICES) if (children.get(service)?.exitCode !== null) startService(service);
  };
  const stopServices = async (names: string[]) => {
    // The UI and the frontend first, so no client sees a half-stopped cluster answer.
    for (const name of names) {
      const child = children.get(name);
      if (child) await stopProcess(child, 15_000);
    }
  };
  const stop = () => stopServices(['ui', 'frontend', 'worker', 'matching', 'history']);
  try {
    await startServices();
    const connection = await connect(o.address, o.certs);
    try {
      await ensureNamespace(connection, o.namespace);
    } finally {
      await connection.close();
    }
    log.info({ address: o.address, tls: Boolean(o.certs), ms: Date.now() - started }, 'temporal cluster ready');

    const uiLog = path.join(o.logsDir, 'temporal-ui.log');
    const ui = startProcess(await ensureTool('temporal-ui-server'), ['--root', path.join(ROOT, 'temporal'), '--config', 'ui', '--env', 'factory', 'start'], uiLog, {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: o.address,
      TEMPORAL_UI_HOST: host,
      TEMPORAL_UI_PORT: String(o.uiPort),
      TEMPORAL_UI_ORIGIN: uiUrl,
      TEMPORAL_NAMESPACE: o.namespace,
      ...(o.certs && { TEMPORAL_TLS_CA: o.certs.ca, TEMPORAL_TLS_CERT: o.certs.clientCert, TEMPORAL_TLS_KEY: o.certs.clientKey, TEMPORAL_TLS_SERVER_NAME: o.certs.serverName }),
      ...(o.codecUrl && { FACTORY_CODEC_URL: o.codecUrl }),
    });
    children.set('ui', ui);
    await waitFor(`Temporal UI server on ${uiUrl}`, async () => (await fetch(uiUrl)).ok, 30_000, ui, uiLog);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name: 'temporal',
    address: o.address,
    owned: true,
    uiUrl,
    stop,
    restart: async () => {
      await stopServices(['frontend', 'worker', 'matching', 'history']);
      await startServices();
    },
    pids: () => Object.fromEntries([...children].map(([name, child]) => [name, child.pid])),
  };
}
