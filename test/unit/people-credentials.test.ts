import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEnv } from '../../config/env';
import { credentialsFile, CredentialsError, findToken, readCredentials, writeCredentials } from '../../people/credentials';

const TOKEN = `fct_0123456789abcdef_${'a'.repeat(43)}`;
const mode = (p: string) => fs.statSync(p).mode & 0o777;

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credentials-test-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('CLI credentials', () => {
  test('the file is <data dir>/credentials/token unless FACTORY_CREDENTIALS_FILE says otherwise', () => {
    expect(credentialsFile(loadEnv({ FACTORY_DATA_DIR: dir }))).toBe(path.join(dir, 'credentials', 'token'));
    expect(credentialsFile(loadEnv({ FACTORY_DATA_DIR: dir, FACTORY_CREDENTIALS_FILE: path.join(dir, 'elsewhere') }))).toBe(path.join(dir, 'elsewhere'));
  });

  test('written: a 0700 directory, a 0600 file, no temporary file left; read back whole', () => {
    const file = path.join(dir, 'new', 'credentials', 'token');
    writeCredentials(file, TOKEN);
    expect(mode(path.dirname(file))).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['token']);
    expect(readCredentials(file)).toBe(TOKEN);
    writeCredentials(file, TOKEN.replace('a', 'b'));
    expect(readCredentials(file)).toBe(TOKEN.replace('a', 'b'));
    expect(mode(file)).toBe(0o600);
  });

  test('FACTORY_TOKEN comes first, then the file; neither is undefined', () => {
    const file = path.join(dir, 'first', 'token');
    const env = (extra: Record<string, string> = {}) => loadEnv({ FACTORY_DATA_DIR: dir, FACTORY_CREDENTIALS_FILE: file, ...extra });
    expect(findToken(env())).toBeUndefined();
    writeCredentials(file, TOKEN);
    expect(findToken(env())).toEqual({ token: TOKEN, source: file });
    expect(findToken(env({ FACTORY_TOKEN: 'fct_from_env' }))).toEqual({ token: 'fct_from_env', source: 'FACTORY_TOKEN' });
  });

  test.each([0o640, 0o604, 0o660, 0o644, 0o620])('a file with mode %o is refused, as ssh refuses a readable key', (m) => {
    const file = path.join(dir, `open-${m.toString(8)}`);
    fs.writeFileSync(file, TOKEN);
    fs.chmodSync(file, m);
    expect(() => readCredentials(file)).toThrow(CredentialsError);
    expect(() => readCredentials(file)).toThrow(`has mode 0${m.toString(8)}, which lets group or others read it, so its token is not used; make it private: chmod 600 ${file}`);
    try {
      readCredentials(file);
    } catch (err) {
      expect((err as Error).message).not.toContain(TOKEN);
    }
  });

  test('an empty file or a directory is a clear error', () => {
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '\n', { mode: 0o600 });
    expect(() => readCredentials(empty)).toThrow(`the credentials file ${empty} is empty`);
    const folder = path.join(dir, 'folder');
    fs.mkdirSync(folder, { mode: 0o700 });
    expect(() => readCredentials(folder)).toThrow(`the credentials file ${folder} is not a regular file`);
  });
});
