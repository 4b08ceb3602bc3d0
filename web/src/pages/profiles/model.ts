import type { Profile } from "../../../../src/profiles/index.ts";

/** A profile as GET /api/v1/profiles and /api/v1/profiles/:id answer: the server's own type. */
export type { Profile };

const IDENTITY_LABELS: Record<string, string> = {
  user_id: "User ID",
  anonymous_id: "Anonymous ID",
  email: "Email",
  phone: "Phone",
};

/** "user_id" → "User ID"; unknown types (external ids) keep their name. */
export function identityLabel(type: string): string {
  return IDENTITY_LABELS[type] ?? type;
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() ? v.trim() : typeof v === "number" ? String(v) : undefined;
}

/** The values of one identity type, e.g. every user id of the person. */
export function identitiesOf(p: Profile, type: string): string[] {
  return p.identities.filter((i) => i.type === type).map((i) => i.value);
}

/** What to call the person: their name, else their email, else their user id, else "Anonymous visitor". */
export function displayName(p: Profile): string {
  const t = p.traits;
  const full = [text(t.firstName) ?? text(t.first_name), text(t.lastName) ?? text(t.last_name)]
    .filter(Boolean)
    .join(" ");
  return (
    text(t.name) ??
    (full || undefined) ??
    text(t.email) ??
    identitiesOf(p, "email")[0] ??
    identitiesOf(p, "user_id")[0] ??
    "Anonymous visitor"
  );
}

/** A trait value for a table cell: strings as they are, anything else as JSON. */
export function traitText(v: unknown): string {
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
