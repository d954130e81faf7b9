// The passwords attackers try first: the common-password list of @zxcvbn-ts/language-common (about 49,000
// from public breach corpora, maintained with zxcvbn-ts), read on first use rather than at import.
type Dictionaries = { dictionary: Record<'passwords-common', string[]> };

let common: Set<string> | null = null;

/** True for a password on the list, whatever its case, width or surrounding spaces. */
export function isCommonPassword(password: string): boolean {
  common ??= new Set((require('@zxcvbn-ts/language-common') as Dictionaries).dictionary['passwords-common']);
  const plain = password.normalize('NFKC').trim().toLowerCase();
  return common.has(plain);
}
