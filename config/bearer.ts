import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * Bearer-token check for the factory's HTTP services, from a comma-separated
 * list. Returns which token matched (1-based, so logs and the audit trail can
 * name it without the secret), 0 when no tokens are configured (open), or
 * undefined when the header is not `Bearer <an accepted token>`.
 * Tokens are compared as sha256 digests, every one of them, so neither the
 * time taken nor an early exit tells a caller a token's length or which
 * prefix was right.
 */
export function bearerTokens(list: string): (header: string | undefined) => number | undefined {
  const accepted = list.split(',').map((t) => t.trim()).filter(Boolean).map(digest);
  return (header) => {
    if (accepted.length === 0) return 0;
    const given = /^Bearer +(\S+) *$/i.exec(header ?? '');
    if (!given) return undefined;
    const hash = digest(given[1]);
    let matched = 0;
    accepted.forEach((t, i) => {
      if (timingSafeEqual(t, hash) && matched === 0) matched = i + 1;
    });
    return matched === 0 ? undefined : matched;
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * The address a service listens on: loopback unless configured otherwise, and
 * never elsewhere without bearer tokens, since anyone on the network could then
 * call it.
 */
export function listenHost(service: string, host: string, tokens: string, tokensVariable: string): string {
  if (!LOOPBACK.test(host) && bearerTokens(tokens)(undefined) === 0) {
    throw new Error(`${service}: refusing to listen on ${host} without bearer tokens; set ${tokensVariable}, or listen on 127.0.0.1`);
  }
  return host;
}
