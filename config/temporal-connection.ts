import fs from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from '../payloads/codec';
import { payloadKeys } from '../payloads/keys';
import { connections, type FactoryEnv } from './env';

function readPem(variable: string, file: string): Buffer {
  if (!fs.existsSync(file)) throw new Error(`${variable}=${file} does not exist`);
  return fs.readFileSync(file);
}

/**
 * TLS towards Temporal's frontend: the CA that signed the server's certificate
 * (TEMPORAL_TLS_CA), and for mutual TLS this process's certificate and key
 * (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY). Unset: plain gRPC, as the dev server speaks.
 */
export function temporalTls(env: Pick<FactoryEnv, 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_TLS_CA' | 'TEMPORAL_TLS_SERVER_NAME'>): TLSConfig | undefined {
  const { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca } = env;
  if (!cert && !key && !ca) return undefined;
  if (Boolean(cert) !== Boolean(key)) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both for mutual TLS, or neither');
  return {
    serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME,
    serverRootCACertificate: ca ? readPem('TEMPORAL_TLS_CA', ca) : undefined,
    clientCertPair: cert && key ? { crt: readPem('TEMPORAL_TLS_CERT', cert), key: readPem('TEMPORAL_TLS_KEY', key) } : undefined,
  };
}

/**
 * How payloads cross Temporal: encrypted with the configured payload keys
 * (payloads/keys.ts), failure messages included; as they are when none is set.
 * Workers take the same, so the failure converter is also in the workflow bundle.
 */
export function dataConverter(env: FactoryEnv): DataConverter | undefined {
  const keys = payloadKeys(env);
  if (keys.length === 0) return undefined;
  return { payloadCodecs: [new AesGcmCodec(keys)], failureConverterPath: require.resolve('../payloads/failure-converter') };
}

/** A Temporal client as every factory process other than a worker opens it: the configured address, TLS and payload encryption. */
export async function connectClient(env: FactoryEnv, connectTimeout?: number): Promise<{ client: Client; connection: Connection }> {
  const c = connections(env);
  const connection = await Connection.connect({ address: c.temporalAddress, tls: temporalTls(env), connectTimeout });
  return { connection, client: new Client({ connection, namespace: c.namespace, dataConverter: dataConverter(env) }) };
}
