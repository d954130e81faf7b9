// Waiting in tests for something that will happen (never to show that something did not): polls the
// condition and fails, naming it, once `timeoutMs` has passed. The one polling loop of the suite.

/** waitFor for a condition that has to ask (a database read, say): asked again until it holds. */
export async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  return waitUntil(what, async () => condition(), timeoutMs, everyMs);
}
