// The three designs the suite checks, one at a time (RULES.md "Profiles").
// Every behavioural difference between them lives in this file.

export const PROFILES = ['v8', 'rfc', 'converter'] as const;
export type Profile = (typeof PROFILES)[number];

export function isProfile(s: string): s is Profile {
  return (PROFILES as readonly string[]).includes(s);
}
