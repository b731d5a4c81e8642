import crypto from 'node:crypto';
import { hashSecret, newToken, parseToken, verifySecret } from '../../people/tokens';

describe('personal CLI tokens', () => {
  test('a new token has the documented form and parses back into its parts', () => {
    const t = newToken();
    expect(t.token).toMatch(/^fct_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(t.token).toBe(`fct_${t.tokenId}_${t.secret}`);
    expect(Buffer.from(t.secret, 'base64url')).toHaveLength(32);
    expect(parseToken(t.token)).toEqual({ tokenId: t.tokenId, secret: t.secret });
    expect(newToken().token).not.toBe(t.token);
  });

  test('a secret may itself hold "_" and "-": base64url does', () => {
    const secret = `${'_'.repeat(21)}${'-'.repeat(22)}`;
    expect(parseToken(`fct_0123456789abcdef_${secret}`)).toEqual({ tokenId: '0123456789abcdef', secret });
  });

  test.each([
    ['empty', ''],
    ['another prefix', `fcx_0123456789abcdef_${'a'.repeat(43)}`],
    ['an uppercase token id', `fct_0123456789ABCDEF_${'a'.repeat(43)}`],
    ['a short token id', `fct_0123456789abcde_${'a'.repeat(43)}`],
    ['a short secret', `fct_0123456789abcdef_${'a'.repeat(42)}`],
    ['a long secret', `fct_0123456789abcdef_${'a'.repeat(44)}`],
    ['standard base64', `fct_0123456789abcdef_${'a'.repeat(42)}+`],
    ['surrounding whitespace', ` fct_0123456789abcdef_${'a'.repeat(43)}\n`],
    ['a missing separator', `fct_0123456789abcdef${'a'.repeat(44)}`],
  ])('%s is not a token', (_, text) => {
    expect(parseToken(text)).toBeUndefined();
  });

  test('a hash names its parameters, salts every time, and verifies only its own secret', async () => {
    const { secret } = newToken();
    const stored = await hashSecret(secret);
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret);
    expect(await hashSecret(secret)).not.toBe(stored);
    expect(await verifySecret(secret, stored)).toBe(true);
    expect(await verifySecret(newToken().secret, stored)).toBe(false);
    expect(await verifySecret(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, stored)).toBe(false);
  });

  test('a hash stored with other parameters still verifies', async () => {
    const salt = crypto.randomBytes(16);
    const key = crypto.scryptSync('s3cret', salt, 32, { N: 1024, r: 4, p: 2 });
    const stored = `scrypt$1024$4$2$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(await verifySecret('s3cret', stored)).toBe(true);
    expect(await verifySecret('s3cres', stored)).toBe(false);
  });

  test('an altered or foreign stored hash verifies nothing', async () => {
    const secret = 'the-secret';
    const stored = await hashSecret(secret);
    const parts = stored.split('$');
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64url');
      bytes[0] ^= 1;
      return bytes.toString('base64url');
    };
    const altered = [
      [...parts.slice(0, 5), flip(parts[5])].join('$'),
      [...parts.slice(0, 4), flip(parts[4]), parts[5]].join('$'),
      ['scrypt', '8192', ...parts.slice(2)].join('$'),
      ['scrypt', '16384', '8', '2', ...parts.slice(4)].join('$'),
      ['bcrypt', ...parts.slice(1)].join('$'),
      parts.slice(0, 5).join('$'),
      `${stored}$extra`,
      ['scrypt', '16383', ...parts.slice(2)].join('$'),
      ['scrypt', String(1 << 30), ...parts.slice(2)].join('$'),
      ['scrypt', '16384', '1000', ...parts.slice(3)].join('$'),
      ['scrypt', '016384', ...parts.slice(2)].join('$'),
      [...parts.slice(0, 4), '', parts[5]].join('$'),
      [...parts.slice(0, 5), ''].join('$'),
      '',
    ];
    for (const s of altered) expect(await verifySecret(secret, s)).toBe(false);
    expect(await verifySecret(secret, stored)).toBe(true);
  });

  test('the comparison is the timing-safe one', async () => {
    const stored = await hashSecret('the-secret');
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      expect(await verifySecret('the-secret', stored)).toBe(true);
      expect(await verifySecret('not-the-secret', stored)).toBe(false);
      expect(spy).toHaveBeenCalledTimes(2);
      for (const [a, b] of spy.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
    } finally {
      spy.mockRestore();
    }
  });
});
