import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import type { FactoryEnv } from '../config/env';
import { INTEGRITY_ERROR } from '../contracts/errors';

/** What crosses Temporal instead of bytes: where an artifact is and what it must hash to. */
export const artifactRefSchema = z.object({
  key: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

/** A registry row's artifact columns (artifact_key, artifact_sha256, artifact_bytes) as a reference. */
export function refOf(r: { artifact_key: string; artifact_sha256: string; artifact_bytes: string | number }): ArtifactRef {
  return { key: r.artifact_key, sha256: r.artifact_sha256, bytes: Number(r.artifact_bytes) };
}

export const ARTIFACT_KINDS = ['batches', 'quarantine', 'snapshots', 'models', 'checkpoints', 'reports', 'uploads'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class IntegrityError extends Error {
  constructor(key: string, expected: string, actual: string) {
    super(`artifact ${key} is corrupt: expected sha256 ${expected}, got ${actual}`);
    this.name = INTEGRITY_ERROR;
  }
}

/**
 * Content-addressed artifact store on any S3-compatible server. Keys are
 * `<kind>/<sha256><ext>`, so writing the same bytes twice is a no-op and a
 * reader can always verify what it got.
 */
export class ArtifactStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  static fromEnv(env: FactoryEnv, endpoint = env.S3_ENDPOINT ?? `http://127.0.0.1:${env.S3_PORT}`): ArtifactStore {
    // The SDK version in the lockfile supports Node 20; its notice about future releases is noise in every CLI call.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const client = new S3Client({
      endpoint,
      region: env.S3_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    });
    return new ArtifactStore(client, env.S3_BUCKET);
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  async put(kind: ArtifactKind, body: Uint8Array | string, ext = '', contentType = 'application/octet-stream'): Promise<ArtifactRef> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const hash = sha256(bytes);
    const key = `${kind}/${hash}${ext}`;
    const ref = { key, sha256: hash, bytes: bytes.byteLength };
    // Already there and whole: nothing to write. An object under this key whose size or MD5 (its ETag) differs
    // was damaged after it was written, and these bytes, which hash to its name, put it right.
    if (await this.holds(key, bytes)) return ref;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentType: contentType,
        Metadata: { sha256: hash },
      }),
    );
    return ref;
  }

  /** Reads an artifact and refuses it unless its bytes hash to what the reference says. */
  async get(ref: ArtifactRef): Promise<Buffer> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: ref.key }));
    const bytes = Buffer.from(await out.Body!.transformToByteArray());
    const actual = sha256(bytes);
    if (actual !== ref.sha256) throw new IntegrityError(ref.key, ref.sha256, actual);
    return bytes;
  }

  /** A time-limited link that lets a browser fetch the artifact without credentials. */
  presign(key: string, seconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: seconds });
  }

  async getText(ref: ArtifactRef): Promise<string> {
    return (await this.get(ref)).toString('utf8');
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return false;
      throw err;
    }
  }

  /** Whether the object under key has exactly these bytes, by its size and its ETag (the MD5 of a single-part upload). */
  private async holds(key: string, bytes: Uint8Array): Promise<boolean> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const etag = head.ETag?.replace(/"/g, '');
      return head.ContentLength === bytes.byteLength && etag === createHash('md5').update(bytes).digest('hex');
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return false;
      throw err;
    }
  }
}
