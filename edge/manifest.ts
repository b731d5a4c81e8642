import crypto from 'node:crypto';
import { z } from 'zod';
import { ed25519PublicKey } from '../config/ed25519-key-file';
import { modelNameSchema } from '../specs/model-spec';

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex');
export const deviceIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, ".", "_" and "-", at most 63');

/** One model a device is to serve: which version, its ONNX file by sha256 and size, and the spec it answers by. */
export const manifestModelSchema = z.object({
  model: modelNameSchema,
  version: z.number().int().min(1),
  onnx: z.object({ sha256: sha256Schema, bytes: z.number().int().positive() }),
  /** The model's spec as registered: the agent validates requests and answers with it as serving does (parsed again there). */
  spec: z.record(z.string(), z.unknown()),
});
export type ManifestModel = z.infer<typeof manifestModelSchema>;

/**
 * What a device is told to serve. The serial only ever rises for a device (one
 * sequence for all), so an agent refuses any manifest not newer than the last
 * it accepted: an old manifest replayed, or a rollback to an older version
 * that does not come as a new manifest. The expiry bounds how long a captured
 * manifest can be replayed to a device kept from its gateway (a freeze attack).
 */
export const manifestSchema = z.object({
  format: z.literal(1),
  deviceId: deviceIdSchema,
  group: deviceIdSchema,
  serial: z.number().int().positive(),
  issuedAt: z.string().datetime(),
  expiresAt: z.string().datetime(),
  models: z.array(manifestModelSchema),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** A manifest as it travels: its exact JSON bytes (base64) and the factory's Ed25519 signature over them. */
export const signedManifestSchema = z.object({
  payload: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64'),
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  signature: z.string().regex(/^[0-9a-f]{128}$/, 'an Ed25519 signature in hex'),
});
export type SignedManifest = z.infer<typeof signedManifestSchema>;

/** A public key's id: the first 8 bytes of its sha256, as manifests name the key that signed them. */
export const edgeKeyId = (publicKeyHex: string) => crypto.createHash('sha256').update(Buffer.from(publicKeyHex, 'hex')).digest('hex').slice(0, 16);

export function signManifest(manifest: Manifest, privateKey: crypto.KeyObject, publicKeyHex: string): SignedManifest {
  const payload = Buffer.from(JSON.stringify(manifestSchema.parse(manifest)));
  return { payload: payload.toString('base64'), keyId: edgeKeyId(publicKeyHex), signature: crypto.sign(null, payload, privateKey).toString('hex') };
}

export class ManifestRefused extends Error {}

/**
 * The agent's check of a manifest, in the order an attacker would be caught:
 * signed by the factory's key, for this device, not expired, and newer than
 * the last accepted. The gateway signs a device's manifest afresh for every
 * poll (a new expiry, the same serial), so the same serial with the same
 * models is that manifest refreshed; the same serial with other models, or an
 * older one, is refused. Returns the manifest and whether it changes anything.
 */
export function verifyManifest(
  signed: unknown,
  opts: { publicKeyHex: string; deviceId: string; accepted?: Manifest; now: number },
): { manifest: Manifest; changed: boolean } {
  const s = signedManifestSchema.safeParse(signed);
  if (!s.success) throw new ManifestRefused(`not a signed manifest: ${s.error.issues[0].path.join('.')}: ${s.error.issues[0].message}`);
  if (s.data.keyId !== edgeKeyId(opts.publicKeyHex)) throw new ManifestRefused(`signed with key ${s.data.keyId}, not the factory's (${edgeKeyId(opts.publicKeyHex)})`);
  const payload = Buffer.from(s.data.payload, 'base64');
  if (!crypto.verify(null, payload, ed25519PublicKey(opts.publicKeyHex), Buffer.from(s.data.signature, 'hex'))) throw new ManifestRefused('bad signature: the manifest was not signed by the factory or was altered');
  let parsed: Manifest;
  try {
    parsed = manifestSchema.parse(JSON.parse(payload.toString('utf8')));
  } catch (err) {
    throw new ManifestRefused(`a signed manifest that does not parse: ${(err as Error).message.slice(0, 200)}`);
  }
  if (parsed.deviceId !== opts.deviceId) throw new ManifestRefused(`manifest ${parsed.serial} is for device ${parsed.deviceId}, not this one (${opts.deviceId})`);
  if (Date.parse(parsed.expiresAt) <= opts.now) throw new ManifestRefused(`manifest ${parsed.serial} expired at ${parsed.expiresAt}`);
  const last = opts.accepted?.serial ?? 0;
  if (parsed.serial === last && sameModels(parsed, opts.accepted!)) return { manifest: parsed, changed: false };
  if (parsed.serial <= last) throw new ManifestRefused(`manifest ${parsed.serial} is not newer than the last accepted (${last}): an old manifest replayed`);
  return { manifest: parsed, changed: true };
}

const modelKey = (m: ManifestModel) => `${m.model}@${m.version}:${m.onnx.sha256}`;
const sameModels = (a: Manifest, b: Manifest) => a.models.map(modelKey).sort().join() === b.models.map(modelKey).sort().join();
