import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { envSchema } from '../../config/env';
import { CLUSTER_CONFIG, CLUSTER_SERVICES, DYNAMIC_CONFIG } from '../../stack/temporal-cluster';
import { TOOLS } from '../../stack/tools';

const ROOT = path.resolve(__dirname, '../../..');
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
const services: Record<string, any> = compose.services;

/** No Docker engine runs here, so the deployment's structure is checked instead of started. */
describe('docker-compose.yml', () => {
  test('has the Temporal cluster on PostgreSQL (its four services apart) with its UI, the registry database, S3 and one service per pool', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'approvals', 'codec', 'edge-gateway', 'factory-db', 'intake', 's3', 'serving',
        'temporal-db', 'temporal-schema', 'temporal-frontend', 'temporal-history', 'temporal-matching', 'temporal-worker', 'temporal-setup', 'temporal-ui',
        'worker-control', 'worker-cpu', 'worker-gpu',
      ].sort(),
    );
    for (const service of CLUSTER_SERVICES) {
      const svc = services[`temporal-${service}`];
      expect(svc.command).toEqual([service]);
      expect(svc.entrypoint.join(' ')).toContain('temporal-server --config-file /etc/temporal/cluster.yaml');
      expect(svc.environment.TEMPORAL_DB_HOST).toBe('temporal-db');
    }
    expect(services['temporal-ui'].environment.TEMPORAL_ADDRESS).toBe('temporal-frontend:7233');
    expect(services['temporal-setup'].command).toEqual(['node', 'dist/scripts/factory.js', 'temporal-setup']);
  });

  test('runs the same Temporal build, versions and config files as `factory up --cluster`', () => {
    for (const name of ['temporal-schema', ...CLUSTER_SERVICES.map((s) => `temporal-${s}`), 'temporal-ui']) {
      const svc = services[name];
      expect({ name, args: svc.build.args }).toEqual({ name, args: { TEMPORAL_SERVER_VERSION: TOOLS['temporal-server'].version, TEMPORAL_UI_VERSION: TOOLS['temporal-ui-server'].version } });
      expect(svc.build.context).toBe('temporal');
    }
    expect(TOOLS['temporal-sql-tool'].version).toBe(TOOLS['temporal-server'].version);
    const dockerfile = fs.readFileSync(path.join(ROOT, 'temporal/Dockerfile'), 'utf8');
    for (const tool of ['temporal-server', 'temporal-sql-tool', 'temporal-ui-server'] as const) expect(dockerfile).toContain(`${TOOLS[tool].module}@\${`);
    // The very files the single-host cluster starts with.
    for (const service of CLUSTER_SERVICES) {
      expect(services[`temporal-${service}`].volumes).toEqual(expect.arrayContaining([`./${path.relative(ROOT, CLUSTER_CONFIG)}:/etc/temporal/cluster.yaml:ro`, `./${path.relative(ROOT, DYNAMIC_CONFIG)}:/etc/temporal/dynamic-config.yaml:ro`]));
    }
    expect(services['temporal-ui'].volumes).toEqual(['./temporal/ui:/etc/temporal/ui:ro']);
    // Every variable the config file reads is one the single-host launcher sets (stack/temporal-cluster.ts) or has a default.
    const config = fs.readFileSync(CLUSTER_CONFIG, 'utf8');
    const read = new Set([...config.matchAll(/env "([A-Z_]+)"/g)].map((m) => m[1]));
    for (const name of Object.keys(services['temporal-frontend'].environment)) expect({ name, read: read.has(name) }).toEqual({ name, read: true });
  });

  test.each(['control', 'cpu', 'gpu'])('worker-%s runs its pool entry point with valid settings', (pool) => {
    const svc = services[`worker-${pool}`];
    expect(svc.command).toEqual(['node', `dist/workers/${pool}.js`]);
    expect(fs.existsSync(path.join(ROOT, 'workers', `${pool}.ts`))).toBe(true);
    const known = Object.keys(envSchema.shape);
    for (const name of Object.keys(svc.environment)) expect(known).toContain(name);
    expect(svc.environment.TEMPORAL_ADDRESS).toBe('temporal-frontend:7233');
    expect(svc.environment.S3_ENDPOINT).toBe('http://s3:7070');
    if (pool === 'gpu') {
      expect(svc.environment.DATABASE_URL).toBeUndefined();
      expect(svc.deploy.resources.reservations.devices[0].capabilities).toEqual(['gpu']);
    } else expect(svc.environment.DATABASE_URL).toMatch(/@factory-db:5432\/factory$/);
  });

  test('serving replicas run the prediction service with authentication', () => {
    expect(services.serving.command).toEqual(['node', 'dist/serving/main.js']);
    expect(fs.existsSync(path.join(ROOT, 'serving/main.ts'))).toBe(true);
    expect(services.serving.deploy.replicas).toBeGreaterThan(1);
    for (const name of Object.keys(services.serving.environment)) expect(Object.keys(envSchema.shape)).toContain(name);
    expect(services.serving.environment.SERVING_TOKENS).toMatch(/SERVING_TOKENS/);
  });
  test('the intake takes batches over HTTP and from the landing area, with authentication', () => {
    expect(services.intake.command).toEqual(['node', 'dist/intake/main.js']);
    expect(fs.existsSync(path.join(ROOT, 'intake/main.ts'))).toBe(true);
    for (const name of Object.keys(services.intake.environment)) expect(Object.keys(envSchema.shape)).toContain(name);
    expect(services.intake.environment.INTAKE_TOKENS).toMatch(/INTAKE_TOKENS/);
  });

  test('the approvals service alone holds the signing key; control workers get only its public half', () => {
    const svc = services.approvals;
    expect(svc.command).toEqual(['node', 'dist/approvals/main.js']);
    expect(fs.existsSync(path.join(ROOT, 'approvals/main.ts'))).toBe(true);
    for (const name of Object.keys(svc.environment)) expect(Object.keys(envSchema.shape)).toContain(name);
    expect(svc.environment.FACTORY_APPROVALS_KEY_FILE).toMatch(/^\/keys\//);
    const holders = Object.entries(services).filter(([, s]) => (s.volumes ?? []).some((v: string) => String(v).startsWith('approvals-key:')));
    expect(holders.map(([n]) => n)).toEqual(['approvals']);
    expect(services['worker-control'].environment.FACTORY_APPROVALS_PUBLIC_KEY).toMatch(/FACTORY_APPROVALS_PUBLIC_KEY/);
    expect(Object.keys(services['worker-control'].environment)).not.toContain('SLACK_SIGNING_SECRET');
  });

  test('every dependency names a service, and every mounted file exists', () => {
    for (const [name, svc] of Object.entries(services)) {
      const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
      for (const d of deps) expect({ name, dep: d, exists: d in services }).toEqual({ name, dep: d, exists: true });
      for (const v of svc.volumes ?? []) {
        const source = String(v).split(':')[0];
        if (source.startsWith('./')) expect(fs.existsSync(path.join(ROOT, source))).toBe(true);
        else expect(Object.keys(compose.volumes)).toContain(source);
      }
    }
    expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
  });
});
