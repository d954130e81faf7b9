/** A connection URL without its password, safe to print; `fallback` when it does not parse. */
export function redactUrl(url: string, fallback = '(unparsable url)'): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return fallback;
  }
}
