#!/usr/bin/env node
import fs from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import { EdgeAgent } from './agent';
import { deviceIdSchema } from './manifest';

const optionsSchema = z.object({
  device: deviceIdSchema,
  gateway: z.string().url(),
  dir: z.string().min(1),
  publicKey: z.string().regex(/^[0-9a-fA-F]{64}$/, 'the factory\'s manifest key: 32 bytes in hex (factory edge device add prints it)'),
  port: z.coerce.number().int().min(1).max(65535),
  host: z.string().min(1),
  poll: z.coerce.number().int().min(100),
  report: z.coerce.number().int().min(100),
  maxModelBytes: z.coerce.number().int().min(1),
});

/**
 * `factory-edge --device <id> --gateway <url> --dir <cache>`: the agent on a
 * device. Its token comes from FACTORY_EDGE_TOKEN or --token-file (0600), never
 * the command line, which any process on the device could read.
 */
const program = new Command('factory-edge')
  .description("serves the factory's models on this device from a verified cache, online or not")
  .requiredOption('--device <id>', 'this device, as registered (factory edge device add)')
  .requiredOption('--gateway <url>', 'the edge gateway, e.g. http://factory.example:8088')
  .requiredOption('--dir <path>', 'where the accepted manifest, the models and unreported telemetry are kept')
  .option('--public-key <hex>', "the factory's manifest key (or FACTORY_EDGE_PUBLIC_KEY)", process.env.FACTORY_EDGE_PUBLIC_KEY)
  .option('--token-file <path>', 'a file holding the device token (else FACTORY_EDGE_TOKEN)')
  .option('--port <port>', 'the local prediction port', '8180')
  .option('--host <host>', 'the local listen address', '127.0.0.1')
  .option('--poll <ms>', 'how often to ask for a new manifest', '5000')
  .option('--report <ms>', 'how often to report', '10000')
  .option('--max-model-bytes <n>', 'the largest model this device can hold', String(512 * 1024 * 1024))
  .action(async (raw: Record<string, string | undefined>) => {
    const parsed = optionsSchema.safeParse(raw);
    if (!parsed.success) {
      console.error(`factory-edge: ${parsed.error.issues.map((i) => `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('; ')}`);
      process.exit(2);
    }
    const o = parsed.data;
    let token = process.env.FACTORY_EDGE_TOKEN;
    if (raw.tokenFile) {
      if ((fs.statSync(raw.tokenFile).mode & 0o077) !== 0) {
        console.error(`factory-edge: ${raw.tokenFile} is readable by others; chmod 600 it`);
        process.exit(2);
      }
      token = fs.readFileSync(raw.tokenFile, 'utf8').trim();
    }
    if (!token) {
      console.error('factory-edge: no device token: set FACTORY_EDGE_TOKEN or give --token-file');
      process.exit(2);
    }
    const agent = new EdgeAgent({
      deviceId: o.device,
      gatewayUrl: o.gateway.replace(/\/$/, ''),
      dir: o.dir,
      token,
      publicKeyHex: o.publicKey.toLowerCase(),
      port: o.port,
      host: o.host,
      tokens: process.env.FACTORY_EDGE_LOCAL_TOKENS ?? '',
      pollMs: o.poll,
      reportMs: o.report,
      maxModelBytes: o.maxModelBytes,
      maxBufferedHours: 10_000,
    });
    await agent.start();
    const stop = () => void agent.stop().finally(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program.parseAsync().catch((err) => {
  console.error(`factory-edge: ${(err as Error).message}`);
  process.exit(1);
});
