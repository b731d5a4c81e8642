import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import type { FactoryEnv } from '../config/env';
import { ArtifactStore } from '../storage/artifacts';
import { ensureTool } from './tools';
import { isPortOpen, reused, startProcess, stopProcess, waitFor, type ServiceHandle } from './process';

async function answers(store: ArtifactStore): Promise<boolean> {
  await store.client.send(new ListBucketsCommand({}));
  return true;
}

/**
 * versitygw keeps object metadata in user xattrs; where the filesystem has none
 * (some overlay and tmpfs mounts) it needs a sidecar dir. Node has no xattr API,
 * so probe with setfattr; without it, the sidecar is the choice that always works.
 */
function supportsUserXattrs(dir: string): boolean {
  try {
    execFileSync('setfattr', ['-n', 'user.factory-probe', '-v', '1', dir], { stdio: 'ignore' });
    execFileSync('setfattr', ['-x', 'user.factory-probe', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * S3: S3_ENDPOINT when set, otherwise versitygw serving a POSIX directory under
 * the data dir. Either way the bucket exists when this returns.
 */
export async function startS3(env: FactoryEnv, dataDir: string, logFile: string): Promise<ServiceHandle & { endpoint: string }> {
  if (env.S3_ENDPOINT) {
    const store = ArtifactStore.fromEnv(env);
    await waitFor(`S3 at ${env.S3_ENDPOINT}`, () => answers(store), 15_000);
    await store.ensureBucket();
    return { ...reused('s3', env.S3_ENDPOINT), endpoint: env.S3_ENDPOINT };
  }
  const endpoint = `http://127.0.0.1:${env.S3_PORT}`;
  const store = ArtifactStore.fromEnv(env, endpoint);
  if (await isPortOpen(env.S3_PORT)) {
    await waitFor(`S3 at ${endpoint}`, () => answers(store), 15_000);
    await store.ensureBucket();
    return { ...reused('s3', endpoint), endpoint };
  }
  const binary = await ensureTool('versitygw');
  const root = `${dataDir}/data`;
  const sidecar = `${dataDir}/meta`;
  fs.mkdirSync(root, { recursive: true });
  const backend = ['posix'];
  // Once chosen, a data dir keeps its metadata mode: switching would orphan what is stored.
  const useSidecar = fs.existsSync(sidecar) || (fs.readdirSync(root).length === 0 && !supportsUserXattrs(root));
  if (useSidecar) {
    fs.mkdirSync(sidecar, { recursive: true });
    backend.push('--sidecar', sidecar);
  }
  const child = startProcess(
    binary,
    ['--access', env.S3_ACCESS_KEY_ID, '--secret', env.S3_SECRET_ACCESS_KEY, '--region', env.S3_REGION, '--port', `127.0.0.1:${env.S3_PORT}`, '--quiet', ...backend, root],
    logFile,
  );
  await waitFor('versitygw', () => answers(store), 30_000, child, logFile);
  await store.ensureBucket();
  return { name: 's3', address: endpoint, owned: true, endpoint, stop: () => stopProcess(child) };
}
