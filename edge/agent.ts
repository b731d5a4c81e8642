import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { bearerTokens, listenHost } from '../config/bearer';
import { answerErrorsWithReasons } from '../config/http-errors';
import { OnnxScorer } from '../ml/scoring';
import { parseModelSpec, type ModelSpec } from '../specs/model-spec';
import { labelClasses } from '../specs/label';
import { loggedScores, predictions, readBody } from '../serving/predict-body';
import { ManifestRefused, signedManifestSchema, verifyManifest, type Manifest, type ManifestModel, type SignedManifest } from './manifest';
import { LATENCY_BOUNDS_MS, latencyBucket, scoreBins, type DeviceReport, type TelemetryHour } from './telemetry';

export interface AgentOptions {
  deviceId: string;
  gatewayUrl: string;
  /** The device's own state: the accepted manifest, the verified models, the telemetry not yet reported. */
  dir: string;
  token: string;
  /** The factory's manifest key (raw Ed25519, hex), provisioned with the device. */
  publicKeyHex: string;
  port: number;
  host: string;
  /** Tokens a local client must present; empty: none (the port is the device's own). */
  tokens: string;
  pollMs: number;
  reportMs: number;
  /** The largest model this device can hold in memory; a bigger one fails to load, as it would on a small device. */
  maxModelBytes: number;
  /** Telemetry hours kept while offline at most; older ones are dropped and counted. */
  maxBufferedHours: number;
}

interface Served {
  model: string;
  version: number;
  sha256: string;
  spec: ModelSpec;
  scorer: OnnxScorer;
  classes: (string | number)[] | undefined;
  bins: ReturnType<typeof scoreBins>;
  inFlight: number;
}

/** What survives a reboot: the manifest it serves by (as signed) and what it has yet to report. */
interface State {
  signed?: SignedManifest;
  manifest?: Manifest;
  pending: Pick<DeviceReport, 'loadErrors' | 'refusals' | 'hours' | 'droppedHours'>;
}

const emptyPending = (): State['pending'] => ({ loadErrors: [], refusals: [], hours: [], droppedHours: 0 });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const hourOf = (ms: number) => new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString();
/** How many notes of each kind wait for a report at most: the newest are kept. */
const MAX_NOTES = 100;

/**
 * The edge agent: serves the factory's models on a device, from its own
 * verified cache, whether or not the gateway can be reached. It takes a new
 * manifest only when the factory signed it for this device, it is newer than
 * the last one accepted and not expired; a model only when its bytes hash to
 * what the manifest says; and swaps a loaded, warmed-up version in between
 * requests, as serving does.
 */
export class EdgeAgent {
  private state: State = { pending: emptyPending() };
  private readonly served = new Map<string, Served>();
  private readonly log: pino.Logger;
  private app?: FastifyInstance;
  private timers: NodeJS.Timeout[] = [];
  private polling?: Promise<void>;
  private reporting?: Promise<void>;
  /** The gateway answered the last call: the device is online. */
  online = false;
  /** Bytes to and from the gateway since start (manifests, models, reports): what the device's link carried for the factory. */
  private readonly transfer = { down: 0, up: 0 };

  constructor(private readonly o: AgentOptions) {
    this.log = pino({ base: { service: 'edge-agent', device: o.deviceId } }, pino.destination(2));
    fs.mkdirSync(path.join(o.dir, 'models'), { recursive: true, mode: 0o700 });
  }

  private get stateFile() {
    return path.join(this.o.dir, 'state.json');
  }

  private saveState(): void {
    const tmp = `${this.stateFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    // Renamed into place: a crash leaves the old state or the new one, never half of one.
    fs.renameSync(tmp, this.stateFile);
  }

  /** Starts serving from the cache (offline if need be), then polls the gateway and reports. */
  async start(): Promise<void> {
    if (fs.existsSync(this.stateFile)) {
      const saved = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as Partial<State>;
      this.state = { ...saved, pending: saved.pending ?? emptyPending() };
      if (this.state.manifest) {
        for (const m of this.state.manifest.models) await this.load(m).catch((err) => this.note('loadErrors', { model: m.model, version: m.version, reason: `from the cache: ${(err as Error).message}` }));
        this.log.info({ serial: this.state.manifest.serial, serving: this.servingList() }, 'serving from the verified cache');
      }
    }
    this.app = this.buildServer();
    await this.app.listen({ port: this.o.port, host: listenHost('edge agent', this.o.host, this.o.tokens, 'FACTORY_EDGE_LOCAL_TOKENS') });
    this.log.info({ port: this.o.port, gateway: this.o.gatewayUrl }, 'edge agent started');
    const every = (ms: number, fn: () => void) => this.timers.push(setInterval(fn, ms));
    every(this.o.pollMs, () => void this.pollOnce());
    every(this.o.reportMs, () => void this.reportOnce());
    void this.pollOnce();
  }

  async stop(): Promise<void> {
    this.timers.forEach(clearInterval);
    await this.app?.close();
    await Promise.allSettled([this.polling, this.reporting]);
    this.rollHours(Number.POSITIVE_INFINITY);
    this.saveState();
    for (const s of this.served.values()) await s.scorer.release();
  }

  private servingList() {
    return [...this.served.values()].map((s) => ({ model: s.model, version: s.version, sha256: s.sha256 }));
  }

  private note<K extends 'loadErrors' | 'refusals'>(kind: K, n: Omit<State['pending'][K][number], 'at'>): void {
    const list = this.state.pending[kind] as unknown[];
    list.push({ at: new Date().toISOString(), ...n });
    if (list.length > MAX_NOTES) list.splice(0, list.length - MAX_NOTES);
    this.log.warn({ [kind]: n }, kind === 'refusals' ? 'refused' : 'model failed to load');
    this.saveState();
  }

  private async gateway(pathname: string, init: RequestInit = {}): Promise<Response> {
    try {
      const res = await fetch(`${this.o.gatewayUrl}${pathname}`, { ...init, headers: { authorization: `Bearer ${this.o.token}`, ...init.headers }, signal: AbortSignal.timeout(15_000) });
      this.online = true;
      this.transfer.up += typeof init.body === 'string' ? Buffer.byteLength(init.body) : 0;
      const body = Buffer.from(await res.arrayBuffer());
      this.transfer.down += body.length;
      return new Response([101, 204, 205, 304].includes(res.status) ? null : body, { status: res.status, headers: res.headers });
    } catch (err) {
      if (this.online) this.log.warn({ error: (err as Error).message }, 'gateway unreachable: serving from the cache');
      this.online = false;
      throw err;
    }
  }

  pollOnce(): Promise<void> {
    return (this.polling ??= this.poll()
      .catch((err) => this.log.debug({ error: (err as Error).message }, 'poll failed'))
      .finally(() => (this.polling = undefined)));
  }

  private async poll(): Promise<void> {
    const serial = this.state.manifest?.serial;
    const res = await this.gateway(`/v1/devices/${this.o.deviceId}/manifest`, { headers: serial ? { 'if-none-match': `"${serial}"` } : {} });
    if (res.status === 204 || res.status === 304) return;
    if (!res.ok) throw new Error(`manifest: gateway answered ${res.status} ${(await res.text()).slice(0, 200)}`);
    const body = await res.json();
    let checked: ReturnType<typeof verifyManifest>;
    try {
      checked = verifyManifest(body, { publicKeyHex: this.o.publicKeyHex, deviceId: this.o.deviceId, accepted: this.state.manifest, now: Date.now() });
    } catch (err) {
      if (!(err instanceof ManifestRefused)) throw err;
      const serial = (() => {
        try {
          return Number(JSON.parse(Buffer.from(signedManifestSchema.parse(body).payload, 'base64').toString()).serial) || undefined;
        } catch {
          return undefined;
        }
      })();
      // The same refusal on every poll is one event, not one per poll.
      const last = this.state.pending.refusals.at(-1);
      if (last?.reason !== err.message) this.note('refusals', { serial, reason: err.message });
      return;
    }
    if (!checked.changed) return;
    await this.apply(checked.manifest, signedManifestSchema.parse(body));
  }

  /** Takes a new manifest: every model it names downloaded and verified first; a model that then fails to load leaves its previous version serving. */
  private async apply(manifest: Manifest, signed: SignedManifest): Promise<void> {
    const fetched = new Set<string>();
    for (const m of manifest.models) {
      if (this.served.get(m.model)?.sha256 === m.onnx.sha256) continue;
      try {
        await this.download(m);
        fetched.add(m.model);
      } catch (err) {
        // Bytes that do not hash to the manifest's sha256 are refused and the manifest with them: a later poll tries again.
        if (err instanceof ManifestRefused) return this.note('refusals', { serial: manifest.serial, reason: err.message });
        throw err;
      }
    }
    for (const m of manifest.models) {
      if (!fetched.has(m.model)) continue;
      await this.load(m).catch((err) => this.note('loadErrors', { model: m.model, version: m.version, reason: (err as Error).message }));
    }
    for (const name of [...this.served.keys()]) if (!manifest.models.some((m) => m.model === name)) this.retire(name);
    this.state.manifest = manifest;
    this.state.signed = signed;
    this.saveState();
    this.log.info({ serial: manifest.serial, serving: this.servingList() }, 'manifest accepted');
    void this.reportOnce();
  }

  private modelFile(sha: string) {
    return path.join(this.o.dir, 'models', `${sha}.onnx`);
  }

  /** A model's bytes: from the cache when whole, else downloaded, resuming a partial file by Range; verified by sha256 either way. */
  private async download(m: ManifestModel): Promise<Buffer> {
    const file = this.modelFile(m.onnx.sha256);
    if (fs.existsSync(file)) {
      const cached = fs.readFileSync(file);
      if (sha256(cached) === m.onnx.sha256) return cached;
      fs.rmSync(file);
    }
    const part = `${file}.part`;
    const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
    const res = await this.gateway(`/v1/devices/${this.o.deviceId}/models/${m.onnx.sha256}`, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
    if (res.status !== 200 && res.status !== 206) throw new Error(`model ${m.model} v${m.version}: gateway answered ${res.status}`);
    const chunk = Buffer.from(await res.arrayBuffer());
    if (res.status === 200) fs.writeFileSync(part, chunk);
    else fs.appendFileSync(part, chunk);
    const bytes = fs.readFileSync(part);
    const actual = sha256(bytes);
    if (bytes.length !== m.onnx.bytes || actual !== m.onnx.sha256) {
      fs.rmSync(part);
      throw new ManifestRefused(`model ${m.model} v${m.version}: ${bytes.length} bytes with sha256 ${actual}, the manifest says ${m.onnx.bytes} bytes with ${m.onnx.sha256}`);
    }
    fs.renameSync(part, file);
    return bytes;
  }

  /** Loads a verified model (from the cache, where it is whole), warms it up and swaps it in; the version it replaces is released once its requests are done. */
  private async load(m: ManifestModel): Promise<void> {
    const bytes = await this.download(m);
    if (bytes.length > this.o.maxModelBytes) throw new Error(`model ${m.model} v${m.version} is ${bytes.length} bytes; this device holds at most ${this.o.maxModelBytes}`);
    const spec = parseModelSpec(m.spec);
    const scorer = await OnnxScorer.load(bytes, spec);
    await scorer.score(new Float32Array(spec.features.length), 1);
    const previous = this.served.get(m.model);
    this.served.set(m.model, { model: m.model, version: m.version, sha256: m.onnx.sha256, spec, scorer, classes: labelClasses(spec), bins: scoreBins(spec), inFlight: 0 });
    if (previous) this.release(previous);
    this.log.info({ model: m.model, version: m.version, previous: previous?.version }, 'model swapped in');
  }

  private retire(model: string): void {
    const s = this.served.get(model);
    this.served.delete(model);
    if (s) this.release(s);
  }

  private release(s: Served): void {
    const done = () => (s.inFlight === 0 ? void s.scorer.release().catch(() => undefined) : setTimeout(done, 50));
    done();
  }

  private hours = new Map<string, TelemetryHour>();

  private count(s: Served, ms: number, scores: Float32Array | undefined): void {
    const now = Date.now();
    this.rollHours(now);
    const hour = hourOf(now);
    const key = `${s.model}@${s.version}@${hour}`;
    let h = this.hours.get(key);
    if (!h) this.hours.set(key, (h = { model: s.model, version: s.version, hour, requests: 0, errors: 0, latencyMs: LATENCY_BOUNDS_MS.map(() => 0), scores: new Array(s.bins.count).fill(0) }));
    h.requests++;
    h.latencyMs[latencyBucket(ms)]++;
    if (!scores) h.errors++;
    else for (const v of scores) h.scores[s.bins.binOf(v)]++;
  }

  /** Hours that have ended move to the buffer that survives a reboot (bounded: the oldest go first, counted). */
  private rollHours(now: number): void {
    const current = hourOf(now);
    let moved = false;
    for (const [key, h] of this.hours) {
      if (h.hour === current && now !== Number.POSITIVE_INFINITY) continue;
      this.hours.delete(key);
      this.state.pending.hours.push(h);
      moved = true;
    }
    const over = this.state.pending.hours.length - this.o.maxBufferedHours;
    if (over > 0) {
      this.state.pending.hours.splice(0, over);
      this.state.pending.droppedHours += over;
    }
    if (moved && now !== Number.POSITIVE_INFINITY) this.saveState();
  }

  reportOnce(): Promise<void> {
    return (this.reporting ??= this.report()
      .catch((err) => this.log.debug({ error: (err as Error).message }, 'report failed: kept for the next one'))
      .finally(() => (this.reporting = undefined)));
  }

  private async report(): Promise<void> {
    // The hour in progress goes too, as it stands; the gateway keeps the latest figures per hour.
    const sent = { ...this.state.pending, hours: [...this.state.pending.hours] };
    const report: DeviceReport = { at: new Date().toISOString(), serial: this.state.manifest?.serial ?? 0, serving: this.servingList(), ...sent, hours: [...sent.hours, ...this.hours.values()] };
    const res = await this.gateway(`/v1/devices/${this.o.deviceId}/reports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(report) });
    if (!res.ok) throw new Error(`report: gateway answered ${res.status} ${(await res.text()).slice(0, 200)}`);
    // What came in while this report was on its way stays for the next.
    const p = this.state.pending;
    p.loadErrors = p.loadErrors.slice(sent.loadErrors.length);
    p.refusals = p.refusals.slice(sent.refusals.length);
    p.hours = p.hours.slice(sent.hours.length);
    p.droppedHours -= sent.droppedHours;
    this.saveState();
  }

  /** The prediction API of serving, on the device: the same validation and the same answers. */
  private buildServer(): FastifyInstance {
    const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
    answerErrorsWithReasons(app, 'edge agent');
    const token = bearerTokens(this.o.tokens);
    app.get('/healthz', async () => ({ status: 'ok', online: this.online, transferBytes: this.transfer }));
    app.get('/readyz', async (_req, reply) => {
      const serving = this.servingList();
      return reply.code(serving.length > 0 ? 200 : 503).send({ device: this.o.deviceId, online: this.online, serial: this.state.manifest?.serial ?? 0, serving });
    });
    app.post<{ Params: { model: string } }>('/v1/models/:model/predict', async (req, reply) => {
      const started = performance.now();
      if (token(req.headers.authorization) === undefined) return reply.code(401).send({ error: 'missing or wrong bearer token' });
      const s = this.served.get(req.params.model);
      if (!s) return reply.code(404).send({ error: `no version of model "${req.params.model}" is served on this device`, models: this.servingList().map((m) => m.model) });
      const read = readBody(req.body, s.spec);
      if (typeof read === 'string') return reply.code(400).send({ error: read });
      s.inFlight++;
      try {
        const scores = await s.scorer.score(read.x, read.rows).catch(() => undefined);
        this.count(s, performance.now() - started, scores && loggedScores(scores, s.scorer.output.width));
        if (!scores) return reply.code(500).send({ error: `scoring failed for ${s.model} v${s.version}` });
        return { model: s.model, version: s.version, predictions: predictions(scores, s.classes), requestId: randomUUID() };
      } finally {
        s.inFlight--;
      }
    });
    return app;
  }
}
