import { bearerTokens, listenHost } from '../../config/bearer';

describe('bearer tokens', () => {
  const check = bearerTokens('first-token, second-token');

  test('names the matching token by its position, and only with the Bearer scheme', () => {
    expect(check('Bearer first-token')).toBe(1);
    expect(check('bearer second-token')).toBe(2);
    expect(check('second-token')).toBeUndefined();
    expect(check('Basic second-token')).toBeUndefined();
    expect(check('Bearer ')).toBeUndefined();
    expect(check(undefined)).toBeUndefined();
  });

  test('a prefix, an extension or another length of a token is refused', () => {
    for (const wrong of ['first', 'first-token2', 'first-toke', 'Bearer first-token second-token', 'first-token,second-token']) {
      expect(check(`Bearer ${wrong}`)).toBeUndefined();
    }
  });

  test('no tokens configured: open, which only loopback may be', () => {
    expect(bearerTokens(' , ')('anything')).toBe(0);
    expect(listenHost('serving', '127.0.0.1', '', 'SERVING_TOKENS')).toBe('127.0.0.1');
    expect(listenHost('serving', '::1', '', 'SERVING_TOKENS')).toBe('::1');
    expect(() => listenHost('serving', '0.0.0.0', '', 'SERVING_TOKENS')).toThrow('serving: refusing to listen on 0.0.0.0 without bearer tokens; set SERVING_TOKENS, or listen on 127.0.0.1');
    expect(listenHost('intake', '0.0.0.0', 'feed-token', 'INTAKE_TOKENS')).toBe('0.0.0.0');
  });
});
