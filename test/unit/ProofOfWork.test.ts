import { ProofOfWork } from '../../src/services/ProofOfWork';
import { solveProof } from '../helpers/proofOfWork';

const KEY = Buffer.alloc(16, 3);

describe('ProofOfWork', () => {
  it('when a challenge is solved, then its proof counts once, for its purpose and subject only', async () => {
    const pow = new ProofOfWork(KEY, 200);
    const proof = await solveProof(await pow.challenge('login', 'erin1'));

    expect(await pow.verify(proof, 'register', 'erin1')).toBe('invalid');
    expect(await pow.verify(proof, 'login', 'frank')).toBe('invalid');
    expect(await pow.verify(proof, 'login', 'erin1')).toBe('ok');
    expect(await pow.verify(proof, 'login', 'erin1')).toBe('used');
  });

  it('when a proof is missing, garbage, signed by another key or easier than asked, then it is refused', async () => {
    const pow = new ProofOfWork(KEY, 200);
    const foreign = await solveProof(await new ProofOfWork(Buffer.alloc(16, 4), 200).challenge('register'));
    const easy = await solveProof(await pow.challenge('register', '', 0.5));

    expect(await pow.verify(undefined, 'register')).toBe('missing');
    expect(await pow.verify('bm90IGpzb24=', 'register')).toBe('invalid');
    expect(await pow.verify(Buffer.from('{"challenge":{}}').toString('base64'), 'register')).toBe('invalid');
    expect(await pow.verify(foreign, 'register')).toBe('invalid');
    expect(await pow.verify(easy, 'register')).toBe('too_easy');
  });

  it('when the solution is changed, then the proof is refused', async () => {
    const pow = new ProofOfWork(KEY, 200);
    const payload = JSON.parse(Buffer.from(await solveProof(await pow.challenge('register')), 'base64').toString());
    payload.solution.counter += 1;

    expect(await pow.verify(Buffer.from(JSON.stringify(payload)).toString('base64'), 'register')).toBe('invalid');
  });

  it('when a challenge has expired, then its proof is refused as expired', async () => {
    let now = Date.now() - 3600_000;
    const pow = new ProofOfWork(KEY, 200, 60_000, () => now);
    const proof = await solveProof(await pow.challenge('register'));
    now = Date.now();

    expect(await pow.verify(proof, 'register')).toBe('expired');
  });
});
