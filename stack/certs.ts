import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The files of a cluster's mutual TLS: one CA, the Temporal services' certificate, and the factory's client certificate. */
export interface ClusterCerts {
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The name the services' certificate is issued for, as clients check it. */
  serverName: string;
}

const DAYS = '825';
const SERVER_NAME = 'localhost';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as Error & { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl is needed to make the cluster\'s TLS certificates (Debian: apt-get install openssl), or bring your own with TEMPORAL_TLS_*');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

/**
 * A private CA and the certificates a one-host cluster needs, made once with
 * openssl under `dir` (keys 0600) and reused after. The services' certificate
 * serves the frontend and the internode links and is also their client
 * certificate (Temporal's worker service presents it to the frontend); the
 * factory's processes present the client one.
 */
export function ensureClusterCerts(dir: string): ClusterCerts {
  const certs: ClusterCerts = {
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server-key.pem'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client-key.pem'),
    serverName: SERVER_NAME,
  };
  if ([certs.ca, certs.serverCert, certs.clientCert].every((f) => fs.existsSync(f))) return certs;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', DAYS, '-subj', '/CN=AI Factory cluster CA', '-keyout', certs.caKey, '-out', certs.ca, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const issue = (name: string, cert: string, key: string, extensions: string) => {
    const csr = path.join(dir, `${name}.csr`);
    const ext = path.join(dir, `${name}.ext`);
    fs.writeFileSync(ext, extensions);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', csr], dir);
    openssl(['x509', '-req', '-in', csr, '-CA', certs.ca, '-CAkey', certs.caKey, '-CAcreateserial', '-days', DAYS, '-extfile', ext, '-out', cert], dir);
    fs.rmSync(csr);
    fs.rmSync(ext);
  };
  issue(SERVER_NAME, certs.serverCert, certs.serverKey, `subjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n`);
  issue('factory-client', certs.clientCert, certs.clientKey, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  for (const key of [certs.caKey, certs.serverKey, certs.clientKey]) fs.chmodSync(key, 0o600);
  return certs;
}

/** The environment a factory process needs to reach a cluster with these certificates (config/temporal-connection.ts reads it). */
export const clientTlsEnv = (c: ClusterCerts): Record<string, string> => ({
  TEMPORAL_TLS_CERT: c.clientCert,
  TEMPORAL_TLS_KEY: c.clientKey,
  TEMPORAL_TLS_CA: c.ca,
  TEMPORAL_TLS_SERVER_NAME: c.serverName,
});
