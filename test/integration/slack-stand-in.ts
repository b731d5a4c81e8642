import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Slack's Web API (and for the response_url Slack hands an
 * interaction), served on 127.0.0.1 for the real @slack/web-api client to talk
 * to through `slackApiUrl`. It answers the methods the factory uses the way
 * Slack does, records every call without the token, refuses blocks past
 * Slack's limits, and can be told to rate-limit or fail, so tests see what
 * Slack being busy or down does to the factory.
 */

export interface RecordedCall {
  method: string;
  /** The form (or JSON) fields, with JSON-valued ones (blocks, view, …) parsed, and no `token`. */
  body: Record<string, unknown>;
  /** Request headers without Authorization. */
  headers: Record<string, string>;
  /** Whether the request carried `Authorization: Bearer …`. */
  bearer: boolean;
  /** What the stand-in answered: the HTTP status and, for 200s, Slack's JSON. */
  status: number;
  answer?: Record<string, unknown>;
}

export interface RecordedResponse {
  /** The part of the response_url after /respond/. */
  id: string;
  body: Record<string, unknown>;
  status: number;
}

/** How a told-to-fail call fails: rate-limited (429 with Retry-After: 1), down (503), or a Slack error such as `not_in_channel`. */
export type Failure = 429 | 503 | { error: string };

const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata'];

/** Slack refuses a message past these; a card that breaks them must fail here as it would there. */
export function blockProblems(blocks: unknown): string[] {
  if (blocks === undefined) return [];
  if (!Array.isArray(blocks)) return ['blocks must be an array'];
  const problems: string[] = [];
  if (blocks.length > 50) problems.push(`${blocks.length} blocks, over 50`);
  const ids = new Set<string>();
  const text = (t: { text?: unknown } | undefined, max: number, where: string) => {
    if (t && typeof t.text === 'string' && t.text.length > max) problems.push(`${where}: ${t.text.length} characters, over ${max}`);
  };
  blocks.forEach((b: Record<string, any>, i: number) => {
    const where = `blocks[${i}] (${b.type})`;
    if (b.type === 'header') text(b.text, 150, where);
    if (b.type === 'section') {
      text(b.text, 3000, where);
      if (Array.isArray(b.fields)) {
        if (b.fields.length > 10) problems.push(`${where}: ${b.fields.length} fields, over 10`);
        b.fields.forEach((f: { text?: unknown }) => text(f, 2000, `${where} field`));
      }
    }
    if (b.type === 'context') {
      if (b.elements.length > 10) problems.push(`${where}: ${b.elements.length} elements, over 10`);
      b.elements.forEach((e: { text?: unknown }) => text(e, 3000, `${where} element`));
    }
    if (b.type === 'actions') {
      if (b.elements.length > 25) problems.push(`${where}: ${b.elements.length} elements, over 25`);
      for (const e of b.elements) {
        if (e.action_id !== undefined) {
          if (ids.has(e.action_id)) problems.push(`${where}: action_id ${e.action_id} used twice`);
          ids.add(e.action_id);
        }
        if (e.type === 'button') {
          text(e.text, 75, `${where} button`);
          if (typeof e.value === 'string' && e.value.length > 2000) problems.push(`${where}: button value over 2000`);
          if (typeof e.url === 'string' && e.url.length > 3000) problems.push(`${where}: button url over 3000`);
        }
      }
    }
  });
  return problems;
}

function parseFields(raw: string, contentType: string | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = contentType?.startsWith('application/json') ? (raw ? JSON.parse(raw) : {}) : Object.fromEntries(new URLSearchParams(raw));
  for (const k of JSON_FIELDS) {
    if (typeof fields[k] === 'string') {
      try {
        fields[k] = JSON.parse(fields[k] as string);
      } catch {
        // Left as the string Slack would refuse: the answer says invalid_arguments.
      }
    }
  }
  delete fields.token;
  return fields;
}

export class SlackStandIn {
  readonly calls: RecordedCall[] = [];
  readonly responses: RecordedResponse[] = [];
  private readonly failures = new Map<string, Failure[]>();
  private readonly events = new EventEmitter();
  private readonly server: http.Server;
  private seq = 0;
  private readonly epoch = Math.floor(Date.now() / 1000);
  private base = '';

  /** With `token`, calls bearing another (or none) are answered invalid_auth / not_authed, as Slack would. */
  constructor(private readonly opts: { token?: string; team?: string } = {}) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The `slackApiUrl` for a WebClient or Bolt app. */
  get apiUrl(): string {
    return `${this.base}/api/`;
  }

  /** A response_url whose posts this stand-in records under `id`. */
  responseUrl(id: string): string {
    return `${this.base}/respond/${encodeURIComponent(id)}`;
  }

  /** Forgets what was recorded and any failures still queued. */
  reset(): void {
    this.calls.length = 0;
    this.responses.length = 0;
    this.failures.clear();
  }

  /** The next `times` calls of `method` (or of "respond", for response_url posts) fail this way. */
  failNext(method: string, times: number, failure: Failure): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...Array<Failure>(times).fill(failure)]);
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves with the first recorded call (or response) that matches, waiting for it up to `timeoutMs`. */
  waitForCall(method: string, match: (c: RecordedCall) => boolean = () => true, timeoutMs = 5_000): Promise<RecordedCall> {
    return this.waitFor('call', () => this.calls.find((c) => c.method === method && c.status === 200 && match(c)), `a ${method} call`, timeoutMs);
  }

  waitForResponse(match: (r: RecordedResponse) => boolean = () => true, timeoutMs = 5_000): Promise<RecordedResponse> {
    return this.waitFor('response', () => this.responses.find((r) => r.status === 200 && match(r)), 'a response_url post', timeoutMs);
  }

  private waitFor<T>(event: string, find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined) return;
        clearTimeout(timer);
        this.events.off(event, check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.events.off(event, check);
        reject(new Error(`no ${what} within ${timeoutMs} ms; calls so far: ${this.calls.map((c) => `${c.method} ${c.status}`).join(', ') || 'none'}`));
      }, timeoutMs);
      this.events.on(event, check);
      check();
    });
  }

  private failure(method: string): Failure | undefined {
    return this.failures.get(method)?.shift();
  }

  private nextTs(): string {
    this.seq += 1;
    return `${this.epoch}.${String(this.seq).padStart(6, '0')}`;
  }

  private handle(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.base);
    const send = (status: number, answer?: Record<string, unknown>, headers: Record<string, string> = {}) => {
      res.writeHead(status, answer ? { 'content-type': 'application/json', ...headers } : headers);
      res.end(answer ? JSON.stringify(answer) : status === 503 ? 'service unavailable' : '');
    };
    const failWith = (f: Failure, record: (status: number, answer?: Record<string, unknown>) => void) => {
      if (f === 429) {
        send(429, undefined, { 'retry-after': '1' });
        record(429);
      } else if (f === 503) {
        send(503);
        record(503);
      } else {
        const answer = { ok: false, error: f.error };
        send(200, answer);
        record(200, answer);
      }
    };

    if (req.method === 'POST' && url.pathname.startsWith('/respond/')) {
      const record = (status: number) => {
        let body: Record<string, unknown>;
        try {
          body = raw ? JSON.parse(raw) : {};
        } catch {
          body = { unparsed: raw };
        }
        this.responses.push({ id: decodeURIComponent(url.pathname.slice('/respond/'.length)), body, status });
        this.events.emit('response');
      };
      const f = this.failure('respond');
      if (f) return failWith(f, record);
      send(200, { ok: true });
      return record(200);
    }
    if (req.method !== 'POST' || !url.pathname.startsWith('/api/')) return send(404);

    const method = url.pathname.slice('/api/'.length);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'authorization').map(([k, v]) => [k, String(v)]));
    const authorization = req.headers.authorization;
    const bearer = typeof authorization === 'string' && /^Bearer \S+$/.test(authorization);
    let body: Record<string, unknown>;
    try {
      body = parseFields(raw, req.headers['content-type']);
    } catch {
      body = {};
    }
    const call: RecordedCall = { method, body, headers, bearer, status: 0 };
    const record = (status: number, answer?: Record<string, unknown>) => {
      call.status = status;
      call.answer = answer;
      this.calls.push(call);
      this.events.emit('call');
    };
    const f = this.failure(method);
    if (f) return failWith(f, record);
    const answer = this.answer(method, body, bearer ? authorization!.slice('Bearer '.length) : undefined);
    send(200, answer);
    record(200, answer);
  }

  private answer(method: string, body: Record<string, unknown>, token: string | undefined): Record<string, unknown> {
    if (!token) return { ok: false, error: 'not_authed' };
    if (this.opts.token !== undefined && token !== this.opts.token) return { ok: false, error: 'invalid_auth' };
    const team = this.opts.team ?? 'T0FACTORY';
    const channel = typeof body.channel === 'string' ? body.channel : undefined;
    const hasText = typeof body.text === 'string' && body.text.length > 0;
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://factory-test.slack.com/', team: 'factory-test', user: 'ai-factory', team_id: team, user_id: 'U0FACTORYBOT', bot_id: 'B0FACTORY' };
      case 'chat.postMessage':
      case 'chat.update':
      case 'chat.postEphemeral': {
        if (!channel) return { ok: false, error: 'channel_not_found' };
        if (!hasText && !Array.isArray(body.blocks)) return { ok: false, error: 'no_text' };
        if (typeof body.blocks === 'string') return { ok: false, error: 'invalid_arguments' };
        const problems = blockProblems(body.blocks);
        if (problems.length) return { ok: false, error: 'invalid_blocks', response_metadata: { messages: problems } };
        if (method === 'chat.postEphemeral') return body.user ? { ok: true, message_ts: this.nextTs() } : { ok: false, error: 'user_not_in_channel' };
        if (method === 'chat.update') return body.ts ? { ok: true, channel, ts: body.ts, text: body.text ?? '' } : { ok: false, error: 'message_not_found' };
        const ts = this.nextTs();
        return { ok: true, channel, ts, message: { type: 'message', text: body.text ?? '', ts } };
      }
      case 'chat.getPermalink':
        if (!channel || typeof body.message_ts !== 'string') return { ok: false, error: 'message_not_found' };
        return { ok: true, channel, permalink: `https://factory-test.slack.com/archives/${channel}/p${body.message_ts.replace('.', '')}` };
      case 'views.open': {
        if (typeof body.trigger_id !== 'string' || !body.trigger_id) return { ok: false, error: 'invalid_trigger_id' };
        if (typeof body.view !== 'object' || body.view === null) return { ok: false, error: 'invalid_arguments' };
        return { ok: true, view: { id: `V${this.nextTs().replace('.', '')}`, team_id: team, ...(body.view as object) } };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

/** Headers and body as Slack signs a request to the app: HMAC-SHA256 over `v0:{timestamp}:{body}` with the signing secret. */
export function signedSlackRequest(secret: string, body: string, opts: { timestamp?: number } = {}): { headers: Record<string, string>; body: string } {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return {
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': `v0=${signature}` },
    body,
  };
}

const form = (payload: object) => new URLSearchParams({ payload: JSON.stringify(payload) }).toString();

export interface ClickOptions {
  actionId: string;
  value: string;
  teamId: string;
  userId: string;
  channel: string;
  ts: string;
  responseUrl: string;
  triggerId: string;
}

/** The form body Slack posts when someone clicks a button on a message. */
export function blockActionBody(o: ClickOptions): string {
  return form({
    type: 'block_actions',
    user: { id: o.userId, username: o.userId.toLowerCase(), name: o.userId.toLowerCase(), team_id: o.teamId },
    api_app_id: 'A0FACTORY',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: o.ts, channel_id: o.channel, is_ephemeral: false },
    trigger_id: o.triggerId,
    team: { id: o.teamId, domain: 'factory-test' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: o.channel, name: 'factory-approvals' },
    message: { type: 'message', user: 'U0FACTORYBOT', ts: o.ts, bot_id: 'B0FACTORY', text: 'approval card', blocks: [] },
    state: { values: {} },
    response_url: o.responseUrl,
    actions: [{ type: 'button', action_id: o.actionId, block_id: 'factory.actions', text: { type: 'plain_text', text: 'button', emoji: true }, value: o.value, action_ts: `${Math.floor(Date.now() / 1000)}.000100` }],
  });
}

export interface SubmissionOptions {
  callbackId: string;
  privateMetadata: string;
  teamId: string;
  userId: string;
  /** The inputs' values by block id, then action id. */
  values: Record<string, Record<string, string>>;
  triggerId?: string;
}

/** The form body Slack posts when someone submits a modal. */
export function viewSubmissionBody(o: SubmissionOptions): string {
  const values = Object.fromEntries(Object.entries(o.values).map(([block, inputs]) => [block, Object.fromEntries(Object.entries(inputs).map(([action, value]) => [action, { type: 'plain_text_input', value }]))]));
  return form({
    type: 'view_submission',
    team: { id: o.teamId, domain: 'factory-test' },
    user: { id: o.userId, username: o.userId.toLowerCase(), name: o.userId.toLowerCase(), team_id: o.teamId },
    api_app_id: 'A0FACTORY',
    token: 'legacy-verification-token',
    trigger_id: o.triggerId ?? `${Date.now()}.trigger`,
    view: {
      id: 'V0FACTORY',
      team_id: o.teamId,
      type: 'modal',
      blocks: [],
      private_metadata: o.privateMetadata,
      callback_id: o.callbackId,
      state: { values },
      hash: '1700000000.abcdef',
      title: { type: 'plain_text', text: 'Reject candidate', emoji: true },
      close: { type: 'plain_text', text: 'Cancel', emoji: true },
      submit: { type: 'plain_text', text: 'Reject', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      previous_view_id: null,
      root_view_id: 'V0FACTORY',
      app_id: 'A0FACTORY',
      external_id: '',
      app_installed_team_id: o.teamId,
      bot_id: 'B0FACTORY',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  });
}
