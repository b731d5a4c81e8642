import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { creditSpec, registerSpec, ROOT, tokenOf, uniqueName } from './helpers';

/** The CLI as a user runs it: a separate process, its exit code, what it prints. */
function factory(...args: string[]) {
  return factoryWith({ FACTORY_TOKEN: tokenOf('alice') }, ...args);
}
function factoryWith(env: Record<string, string>, ...args: string[]) {
  // No credentials file: the token is FACTORY_TOKEN's or none.
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/scripts/factory.js'), ...args], { encoding: 'utf8', env: { ...process.env, FACTORY_USER: 'cli-test', FACTORY_CREDENTIALS_FILE: '/nonexistent/token', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('factory CLI', () => {
  test('unknown models, versions and bad arguments get a clear error and a non-zero exit', async () => {
    const name = uniqueName('credit-cli');
    await registerSpec(creditSpec(name));
    expect(factory('approve', 'nope', '1')).toMatchObject({ code: 1, err: expect.stringContaining(`error: unknown model "nope"; registered models:`) });
    expect(factory('approve', name, '3', '--as', 'alice')).toMatchObject({ code: 1, err: `error: ${name} has no version 3\n` });
    expect(factory('approve', name, 'latest')).toMatchObject({ code: 1, err: 'error: "latest" is not a version number (expected e.g. 3 or v3)\n' });
    expect(factory('approve', name, '1', '--as', 'bob')).toMatchObject({ code: 1, err: "error: --as bob does not match your token, which is alice's\n" });
    expect(factoryWith({}, 'approve', name, '1')).toMatchObject({ code: 1, err: expect.stringContaining('error: no factory token: set FACTORY_TOKEN') });
    expect(factoryWith({ FACTORY_TOKEN: 'fct_0000000000000000_nope' }, 'approve', name, '1')).toMatchObject({ code: 1, err: expect.stringContaining('error: the token is not valid') });
    expect(factoryWith({}, 'train', name)).toMatchObject({ code: 1, err: expect.stringContaining('error: no factory token') });
    expect(factory('ingest', name, '/no/such.csv')).toMatchObject({ code: 1, err: 'error: data file /no/such.csv does not exist\n' });
    expect(factory('status', 'nope')).toMatchObject({ code: 1, err: expect.stringContaining('unknown model "nope"') });
    const models = factory('models');
    expect(models.code).toBe(0);
    expect(models.out).toContain(`${name}\tchampion none`);
    const history = factory('history', name);
    expect(history).toMatchObject({ code: 0, out: expect.stringContaining(`${name}: audit trail`) });
    expect(history.out).toMatch(/alice +version\.approve +v3 +cli +denied +reason: .* has no version 3/);
    const json = JSON.parse(factory('history', name, '--json').out);
    expect(json).toMatchObject({ model: name, versions: [], specChanges: [{ by: 'test' }] });
  });

  test('a model spec with a typo names the field', () => {
    const r = factory('register', path.join(ROOT, 'test/fixtures/bad-spec.yaml'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('policy.floors');
    expect(r.err).toContain('aucc');
    // Someone who is not an admin may not set a model's approval policy (they could name themselves).
    expect(factory('register', path.join(ROOT, 'models/credit-default.yaml'))).toMatchObject({ code: 1, err: expect.stringContaining("registers a new model with an approval policy; only an admin may (group admins)") });
  });
});
