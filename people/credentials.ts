import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { dataPaths, type FactoryEnv } from '../config/env';

/** A credentials file the CLI will not use; the message says what to do. */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/** Where the CLI keeps its token: FACTORY_CREDENTIALS_FILE, else <FACTORY_DATA_DIR>/credentials/token. */
export function credentialsFile(env: FactoryEnv): string {
  return path.resolve(env.FACTORY_CREDENTIALS_FILE ?? path.join(dataPaths(env).root, 'credentials', 'token'));
}

/** The CLI's token and where it came from (`FACTORY_TOKEN` or the file's path), for messages that must not show the token. */
export interface FoundToken {
  token: string;
  source: string;
}

/** FACTORY_TOKEN first, else the credentials file; undefined when there is neither. */
export function findToken(env: FactoryEnv): FoundToken | undefined {
  if (env.FACTORY_TOKEN) return { token: env.FACTORY_TOKEN.trim(), source: 'FACTORY_TOKEN' };
  const file = credentialsFile(env);
  const token = readCredentials(file);
  return token === undefined ? undefined : { token, source: file };
}

/**
 * The token in a credentials file; undefined when there is no file. As ssh does
 * with a private key, a file that group or others can reach is refused: its
 * token may already be someone else's.
 */
export function readCredentials(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredentialsError(`cannot read the credentials file ${file}: ${(err as Error).message}`);
  }
  try {
    // fstat on the open file, so the mode checked is the mode of the file read.
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new CredentialsError(`the credentials file ${file} is not a regular file`);
    const mode = stat.mode & 0o777;
    if (mode & 0o077) {
      throw new CredentialsError(`the credentials file ${file} has mode ${mode.toString(8).padStart(4, '0')}, which lets group or others read it, so its token is not used; make it private: chmod 600 ${file}`);
    }
    const token = fs.readFileSync(fd, 'utf8').trim();
    if (!token) throw new CredentialsError(`the credentials file ${file} is empty`);
    return token;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a token to a credentials file only its owner can read (directory 0700
 * where this creates it, file 0600), through a rename, so a reader never sees
 * half a token and a crash leaves the old file whole.
 */
export function writeCredentials(file: string, token: string): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      // The umask can only narrow the mode given to open; this makes it exactly 0600.
      fs.fchmodSync(fd, 0o600);
      fs.writeFileSync(fd, `${token}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
