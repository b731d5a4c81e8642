import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { logger } from '../config/logger';

/**
 * The Temporal cluster's release (server and schema tool) and its Web UI: the
 * newest v1.30 and UI releases that build with Go 1.26.8 (server v1.30.9 and UI
 * v2.56.1 and later ask for Go 1.26.10). docker-compose.yml runs the same
 * versions (test/unit/deployment.test.ts checks it).
 */
export const TEMPORAL_SERVER_VERSION = 'v1.30.8';
export const TEMPORAL_UI_VERSION = 'v2.55.0';

/**
 * The external servers the stack runs, pinned to versions that `go install`
 * builds; each is installed under its own name (two modules build a binary
 * called `server`). The cluster's are built when first needed (`factory up
 * --cluster`), or ahead of time by `factory install-tools --cluster`.
 */
export const TOOLS = {
  temporal: { module: 'github.com/temporalio/cli/cmd/temporal', version: 'v1.5.1', envVar: 'TEMPORAL_CLI' },
  versitygw: { module: 'github.com/versity/versitygw/cmd/versitygw', version: 'v1.7.0', envVar: 'VERSITYGW' },
  'temporal-server': { module: 'go.temporal.io/server/cmd/server', version: TEMPORAL_SERVER_VERSION, envVar: 'TEMPORAL_SERVER', cluster: true },
  'temporal-sql-tool': { module: 'go.temporal.io/server/cmd/tools/sql', version: TEMPORAL_SERVER_VERSION, envVar: 'TEMPORAL_SQL_TOOL', cluster: true },
  'temporal-ui-server': { module: 'github.com/temporalio/ui-server/v2/cmd/server', version: TEMPORAL_UI_VERSION, envVar: 'TEMPORAL_UI_SERVER', cluster: true },
} as const;
export type ToolName = keyof typeof TOOLS;

/** Installed tools live beside the repo, not in the data dir, so every data dir (tests, demo) shares them. */
export const TOOLS_DIR = path.resolve(__dirname, '../../.factory/tools/bin');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

export function findTool(name: ToolName): string | undefined {
  const explicit = process.env[TOOLS[name].envVar];
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`${TOOLS[name].envVar}=${explicit} does not exist`);
    return explicit;
  }
  const local = path.join(TOOLS_DIR, name);
  if (fs.existsSync(local)) return local;
  return onPath(name);
}

/** Finds the tool, or builds it with `go install` into the project's tools dir (minutes on first run). */
export async function ensureTool(name: ToolName): Promise<string> {
  const found = findTool(name);
  if (found) return found;
  const { module, version, envVar } = TOOLS[name];
  const go = onPath('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new Error(
      `${name} is not installed and Go is not available to build it.\n` +
        `Install Go 1.24+ (https://go.dev/dl/) and run again, or install ${name} yourself:\n` +
        `  go install ${module}@${version}\n` +
        `and put it on PATH or point ${envVar} at it.`,
    );
  }
  // go install names the binary after the module's last element; it is built aside, then given the tool's name.
  const buildDir = path.join(TOOLS_DIR, `.build-${name}`);
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.mkdirSync(buildDir, { recursive: true });
  logger.info({ tool: name, module, version }, `building ${name} with go install (first run only, takes a few minutes)`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(go, ['install', `${module}@${version}`], {
      env: { ...process.env, GOBIN: buildDir, GOFLAGS: '-trimpath' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const ticker = setInterval(
      () => logger.info({ tool: name, elapsedS: Math.round((Date.now() - started) / 1000) }, `still building ${name}`),
      30_000,
    );
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new Error(`go install ${module}@${version} failed with exit code ${code}`));
    });
  });
  const built = path.join(TOOLS_DIR, name);
  fs.renameSync(path.join(buildDir, path.basename(module)), built);
  fs.rmSync(buildDir, { recursive: true, force: true });
  execFileSync(built, ['--version'], { stdio: 'ignore' });
  return built;
}
