import type { PublicUser } from '../../src/services/AccountService';
import { LoginGuard } from '../../src/services/LoginGuard';
import { ProofOfWork } from '../../src/services/ProofOfWork';
import { solveProof } from '../helpers/proofOfWork';

const OWNER: PublicUser = { id: 1, userName: 'erin1', nickName: 'Erin', role: 'shopper' };
const LIMITS = { windowMs: 600_000, ipFails: 30, accountIpFails: 10, challengeAfter: 20 };

/** An account service that knows one password, and counts the passwords it was asked to check. */
function fakeAccounts() {
  const fake = {
    checked: 0,
    authenticate: async (userName: string, password: string) => {
      fake.checked += 1;
      await new Promise((resolve) => setImmediate(resolve));
      return userName === 'erin1' && password === 'right one' ? OWNER : null;
    },
  };
  return fake;
}

describe('LoginGuard', () => {
  it('when 40 wrong passwords for one account arrive at once from one address, then only 10 are checked', async () => {
    const accounts = fakeAccounts();
    const guard = new LoginGuard(accounts, new ProofOfWork(Buffer.alloc(16), 100), LIMITS);

    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => guard.logIn('erin1', `guess ${i}`, '10.0.0.1')));

    expect(accounts.checked).toBe(10);
    expect(outcomes.filter((o) => !o.ok && o.refusal.code === 'BAD_CREDENTIALS')).toHaveLength(10);
    expect(outcomes.filter((o) => !o.ok && o.refusal.code === 'TOO_MANY_LOGINS')).toHaveLength(30);
  });

  it('when an account was attacked past the rule, then another address needs a proof for it, and twice the work after twice the failures', async () => {
    const accounts = fakeAccounts();
    const proofs = new ProofOfWork(Buffer.alloc(16), 100);
    const guard = new LoginGuard(accounts, proofs, { ...LIMITS, challengeAfter: 4, accountIpFails: 4 });
    for (let i = 0; i < 4; i++) await guard.logIn('erin1', 'wrong', '10.0.0.1');
    const unproven = await guard.logIn('erin1', 'wrong', '10.0.0.2');
    // A second attacker pays a proof for each guess.
    for (let i = 0; i < 4; i++) await guard.logIn('erin1', 'wrong', '10.0.0.2', await solveProof(await proofs.challenge('login', 'erin1', 1)));

    const asked = await guard.logIn('erin1', 'right one', '10.0.0.3');
    const checkedBefore = accounts.checked;
    const easy = await solveProof(await proofs.challenge('login', 'erin1', 1));
    const tooEasy = await guard.logIn('erin1', 'right one', '10.0.0.3', easy);
    const hard = await solveProof(await proofs.challenge('login', 'erin1', 2));
    const done = await guard.logIn('erin1', 'right one', '10.0.0.3', hard);

    expect(unproven).toMatchObject({ ok: false, refusal: { code: 'LOGIN_CHALLENGE' } });
    expect(asked).toMatchObject({ ok: false, refusal: { code: 'LOGIN_CHALLENGE' }, challenge: expect.any(Object) });
    expect(tooEasy).toMatchObject({ ok: false, refusal: { code: 'CHALLENGE_INVALID' } });
    expect(accounts.checked).toBe(checkedBefore + 1); // only the login with the hard enough proof was checked
    expect(done).toEqual({ ok: true, user: OWNER });
  });
});
