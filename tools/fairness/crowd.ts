// The crowd of an opening, paced like people and like scripts: when each shopper presses Buy, how long they
// take to answer the captcha, and whether they mistype it. Drawn from a seeded generator, so a run repeats.

export interface ShopperPlan {
  bot: boolean;
  /** Milliseconds after the opening at which the shopper asks for the challenge (presses Buy). */
  pressAt: number;
  /** Milliseconds each captcha takes to read and answer. */
  answerMs: () => number;
  /** Whether an answer is mistyped (people sometimes; scripts, never). */
  mistypes: () => boolean;
}

export interface CrowdSettings {
  humans: number;
  bots: number;
}

/** The tools' seeded generator, to pace a simulated crowd (the draw's own seed is not from here). */
export { seeded as seededRandom } from '../lib/prng';

/**
 * People wait on the page and press Buy when the countdown ends, after a reaction time of a few hundred ms
 * (200-600 ms, most near 300-400); each captcha takes them 2-8 s; one answer in ten is mistyped. Scripts fire
 * within 0-30 ms of the opening and answer in 10-50 ms, never wrong.
 */
export function planCrowd(s: CrowdSettings, random: () => number): ShopperPlan[] {
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const plans: ShopperPlan[] = [];
  for (let i = 0; i < s.humans; i++) {
    // The mean of two uniforms: a reaction time peaked in the middle of 200-600 ms.
    const reaction = (between(200, 600) + between(200, 600)) / 2;
    plans.push({ bot: false, pressAt: reaction, answerMs: () => between(2000, 8000), mistypes: () => random() < 0.1 });
  }
  for (let i = 0; i < s.bots; i++) {
    plans.push({ bot: true, pressAt: between(0, 30), answerMs: () => between(10, 50), mistypes: () => false });
  }
  return plans;
}
