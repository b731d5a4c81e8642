import { logger } from '../config/logger';
import type { IngestOutcome } from '../contracts/payloads';
import type { LandingArea } from '../storage/landing';

/**
 * Polls the S3 landing area: each file under incoming/<model>/ is submitted as
 * a batch of that model and removed once the ingest has an outcome (its bytes
 * are then kept content-addressed, as an accepted or a quarantined batch). A
 * file for an unknown model, or one larger than the intake takes, stays where
 * it is, and says why in the log.
 */
export function watchLanding(
  landing: LandingArea,
  deps: { submit: (model: string, bytes: Buffer, source: string, actor: string) => Promise<IngestOutcome>; modelExists: (model: string) => Promise<boolean> },
  pollMs: number,
  maxBytes: number,
): { stop(): Promise<void> } {
  let running = true;
  const warned = new Set<string>();
  const sweep = async () => {
    for (const file of await landing.list()) {
      if (!running) return;
      const refusal = file.bytes > maxBytes ? `is ${file.bytes} bytes, more than INTAKE_MAX_BYTES (${maxBytes})` : !(await deps.modelExists(file.model)) ? `names unknown model "${file.model}"` : undefined;
      if (refusal) {
        if (!warned.has(file.key)) logger.warn({ key: file.key, bytes: file.bytes }, `landing file ${refusal}; left in place`);
        warned.add(file.key);
        continue;
      }
      const result = await deps.submit(file.model, await landing.read(file.key), `s3://${file.key}`, 'landing');
      await landing.remove(file.key);
      logger.info({ key: file.key, model: file.model, status: result.status, batchId: result.batchId, rows: result.rows }, 'landing file ingested');
    }
  };
  const loop = (async () => {
    while (running) {
      await sweep().catch((err) => logger.error({ err }, 'landing sweep failed; retrying'));
      await new Promise((r) => setTimeout(r, pollMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}
