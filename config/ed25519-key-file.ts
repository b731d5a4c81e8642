import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The DER prefix of an Ed25519 public key's SPKI encoding; the raw 32 bytes follow it. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * An Ed25519 private key kept in a 0600 PEM file by the one service that signs
 * with it, made on its first start; its raw public half, hex, is written
 * beside it (`<file>.pub`) for those who verify.
 */
export function loadOrCreateEd25519(file: string, what: string): { privateKey: crypto.KeyObject; publicKeyHex: string } {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    // wx: two services starting at once must not overwrite each other's key.
    try {
      fs.writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const mode = fs.statSync(file).mode & 0o077;
  if (mode !== 0) throw new Error(`the ${what} ${file} is readable by others (mode ${(fs.statSync(file).mode & 0o777).toString(8)}); chmod 600 it`);
  const privateKey = crypto.createPrivateKey(fs.readFileSync(file));
  const publicKeyHex = Buffer.from(crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32)).toString('hex');
  fs.writeFileSync(publicKeyFile(file), `${publicKeyHex}\n`, { mode: 0o644 });
  return { privateKey, publicKeyHex };
}

/** Where the public key is written beside the private one. */
export const publicKeyFile = (keyFile: string) => `${keyFile}.pub`;

/** A raw 32-byte Ed25519 public key (hex) as a key node:crypto verifies with. */
export function ed25519PublicKey(hex: string): crypto.KeyObject {
  if (!/^[0-9a-f]{64}$/i.test(hex.trim())) throw new Error('an Ed25519 public key is 32 bytes in hex (the .pub file beside its signing key)');
  return crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(hex.trim(), 'hex')]), format: 'der', type: 'spki' });
}
