import { timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token check for the factory's HTTP services, from a comma-separated
 * list. Returns which token matched (1-based, so logs and the audit trail can
 * name it without the secret), 0 when no tokens are configured (open), or
 * undefined when the header does not carry an accepted token.
 */
export function bearerTokens(list: string): (header: string | undefined) => number | undefined {
  const accepted = list.split(',').map((t) => t.trim()).filter(Boolean).map((t) => Buffer.from(t));
  return (header) => {
    if (accepted.length === 0) return 0;
    const given = Buffer.from((header ?? '').replace(/^Bearer\s+/i, ''));
    const i = accepted.findIndex((t) => t.length === given.length && timingSafeEqual(t, given));
    return i < 0 ? undefined : i + 1;
  };
}
