// The one spelling of a user name: what login looks up, registration stores and the login limits count.

/**
 * Leading and trailing characters that show as nothing: every Unicode space (`\s` covers NBSP, the
 * U+2000 range, the ideographic space and BOM), and the zero-width characters that `\s` leaves out.
 */
const EDGES = /^[\s\u200b-\u200d\u2060\u180e]+|[\s\u200b-\u200d\u2060\u180e]+$/g;

/**
 * NFKC (full-width and compatibility forms become their plain letters), trimmed of Unicode spaces, case
 * folded (upper then lower case, so that `ß` and `SS` meet), then NFKC again as NFKC_Casefold does. Every
 * spelling a person or a script may type for one account gives one string, so no variant gets a login
 * budget of its own.
 */
export function normalizeUserName(raw: string): string {
  return raw.normalize('NFKC').replace(EDGES, '').toUpperCase().toLowerCase().normalize('NFKC');
}
