import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { creditSpec, registerSpec, ROOT, uniqueName } from './helpers';

/** The CLI as a user runs it: a separate process, its exit code, what it prints. */
function factory(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/scripts/factory.js'), ...args], { encoding: 'utf8', env: { ...process.env, FACTORY_USER: 'cli-test' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('factory CLI', () => {
  test('unknown models, versions and bad arguments get a clear error and a non-zero exit', async () => {
    const name = uniqueName('credit-cli');
    await registerSpec(creditSpec(name));
    expect(factory('approve', 'nope', '1', '--as', 'alice')).toMatchObject({ code: 1, err: expect.stringContaining(`error: unknown model "nope"; registered models:`) });
    expect(factory('approve', name, '3', '--as', 'alice')).toMatchObject({ code: 1, err: `error: ${name} has no version 3; versions: none yet\n` });
    expect(factory('approve', name, 'latest', '--as', 'alice')).toMatchObject({ code: 1, err: 'error: "latest" is not a version number (expected e.g. 3 or v3)\n' });
    expect(factory('approve', name, '1')).toMatchObject({ code: 1, err: expect.stringContaining("required option '--as <user>' not specified") });
    expect(factory('ingest', name, '/no/such.csv')).toMatchObject({ code: 1, err: 'error: data file /no/such.csv does not exist\n' });
    expect(factory('status', 'nope')).toMatchObject({ code: 1, err: expect.stringContaining('unknown model "nope"') });
    const models = factory('models');
    expect(models.code).toBe(0);
    expect(models.out).toContain(`${name}\tchampion none`);
  });

  test('a model spec with a typo names the field', () => {
    const r = factory('register', path.join(ROOT, 'test/fixtures/bad-spec.yaml'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('policy.floors');
    expect(r.err).toContain('aucc');
  });
});
