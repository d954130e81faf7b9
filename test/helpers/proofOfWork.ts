// Solves the shop's proof-of-work challenges the way the browser's script does, with altcha-lib's solver.
import request from 'supertest';
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { ProofChallenge } from '../../src/services/ProofOfWork';

/** The proof a form sends: base64 of `{challenge, solution}`. */
export async function solveProof(challenge: ProofChallenge): Promise<string> {
  const solution = await solveChallenge({ challenge, deriveKey });
  if (!solution) throw new Error('the proof-of-work challenge was not solved');
  return Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
}

/** The challenge a page carries in its `data-pow` attribute. */
export function challengeFromPage(html: string): ProofChallenge {
  const m = /data-pow="([^"]+)"/.exec(html);
  if (!m) throw new Error('no proof-of-work challenge on the page');
  const json = m[1].replace(/&#34;/g, '"').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return JSON.parse(json) as ProofChallenge;
}

/** A solved registration challenge, taken from the registration page as a browser would. */
export async function registrationProof(app: Parameters<typeof request>[0]): Promise<string> {
  const page = await request(app).get('/user/register');
  return solveProof(challengeFromPage(page.text));
}
