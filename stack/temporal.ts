import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../temporal/search-attributes';
import { ensureTool } from './tools';
import { isPortOpen, reused, startProcess, stopProcess, waitFor, type ServiceHandle } from './process';

export interface TemporalOptions {
  address: string;
  uiPort: number;
  namespace: string;
  dbFile: string;
  logFile: string;
  /** The codec endpoint the embedded Web UI decrypts payloads through. */
  codecUrl?: string;
}

async function ready(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * The Temporal dev server with SQLite file persistence (history survives a
 * restart) and the embedded Web UI, with the factory's search attributes.
 */
export async function startTemporal(o: TemporalOptions): Promise<ServiceHandle & { uiUrl: string; restart(): Promise<void> }> {
  const [host, portText] = o.address.split(':');
  const port = Number(portText);
  const uiUrl = `http://${host}:${o.uiPort}`;
  if (await isPortOpen(port, host)) {
    await waitFor(`Temporal at ${o.address}`, () => ready(o.address, o.namespace), 15_000);
    return { ...reused('temporal', o.address), uiUrl, restart: () => Promise.reject(new Error('cannot restart a Temporal server this process did not start')) };
  }
  const binary = await ensureTool('temporal');
  fs.mkdirSync(path.dirname(o.dbFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', host,
    '--port', String(port),
    '--ui-port', String(o.uiPort),
    '--namespace', o.namespace,
    '--db-filename', o.dbFile,
    '--log-level', 'warn',
    ...Object.entries(SEARCH_ATTRIBUTE_CLI_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...(o.codecUrl ? ['--ui-codec-endpoint', o.codecUrl] : []),
  ];
  let child = startProcess(binary, args, o.logFile);
  const up = () => waitFor('Temporal dev server', () => ready(o.address, o.namespace), 90_000, child, o.logFile);
  await up();
  return {
    name: 'temporal',
    address: o.address,
    owned: true,
    uiUrl,
    stop: () => stopProcess(child),
    // Stops the server and starts it again on the same database file: what a crash and recovery looks like.
    restart: async () => {
      await stopProcess(child);
      child = startProcess(binary, args, o.logFile);
      await up();
    },
  };
}
