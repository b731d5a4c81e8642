import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/** Where producers drop batch files for a model: s3://<bucket>/incoming/<model>/<any name>.csv|.parquet */
export const LANDING_PREFIX = 'incoming/';

/**
 * The landing area: the one place in the bucket that is not content-addressed,
 * because producers name their own files. Files are read once, handed to the
 * intake (which stores them content-addressed) and then removed.
 */
export class LandingArea {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async list(): Promise<{ key: string; model: string; name: string; bytes: number }[]> {
    const found: { key: string; model: string; name: string; bytes: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: LANDING_PREFIX, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const [model, ...rest] = o.Key!.slice(LANDING_PREFIX.length).split('/');
        // A "folder" marker or a file straight under incoming/ names no model.
        if (model && rest.length && rest.join('/')) found.push({ key: o.Key!, model, name: rest.join('/'), bytes: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  async read(key: string): Promise<Buffer> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
