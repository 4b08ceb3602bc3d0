import { isBlocked, rank, type IdentityRules } from "./rules.ts";

export interface Identifier {
  type: string;
  value: string;
}

export interface Extracted {
  /** Usable identifiers, most trusted first, without duplicates. */
  identifiers: Identifier[];
  /** Identifiers carrying a blocked value: they identify no one. */
  blocked: Identifier[];
}

type Message = Record<string, unknown>;

/**
 * The identifiers an event carries: userId, anonymousId, alias's previousId, configured trait keys
 * (email, phone, ...) from identify traits and context.traits, and context.externalIds.
 * Emails are compared lower-cased; other values as sent.
 */
export function extractIdentifiers(message: Message, rules: IdentityRules): Extracted {
  const found: Identifier[] = [];
  const add = (type: string, value: unknown) => {
    if (typeof value === "number" && Number.isFinite(value)) value = String(value);
    if (typeof value !== "string") return;
    found.push({ type, value: normaliseValue(type, value) });
  };
  add("user_id", message.userId);
  add("anonymous_id", message.anonymousId);
  if (message.type === "alias") add(aliasType(message), message.previousId);

  const context = asObject(message.context);
  const sources = [message.type === "identify" ? asObject(message.traits) : {}, asObject(context.traits)];
  for (const [key, type] of Object.entries(rules.traitKeys)) {
    for (const traits of sources) add(type, traits[key]);
  }
  if (Array.isArray(context.externalIds)) {
    for (const ext of context.externalIds) {
      const e = asObject(ext);
      if (typeof e.type === "string" && e.type.trim() !== "") add(normaliseType(e.type), e.id);
    }
  }

  const seen = new Set<string>();
  const identifiers: Identifier[] = [];
  const blocked: Identifier[] = [];
  for (const id of found) {
    const key = `${id.type}\u0000${id.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    (isBlocked(rules, id.value) ? blocked : identifiers).push(id);
  }
  identifiers.sort((a, b) => rank(rules, a.type) - rank(rules, b.type) || a.type.localeCompare(b.type));
  return { identifiers, blocked };
}

/** Alias: previousId is the id the person had before (the resolver also tries it as a user_id). */
function aliasType(message: Message): string {
  const previous = String(message.previousId ?? "");
  return previous.includes("@") ? "email" : "anonymous_id";
}

/** An identifier's value as the graph stores it: trimmed; an email also lower-cased. */
export function normaliseValue(type: string, value: string): string {
  return type === "email" ? value.trim().toLowerCase() : value.trim();
}

/** `user_id`, `email`, `phone` and custom types, spelled the same way whatever the SDK sent. */
export function normaliseType(type: string): string {
  const t = type
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
  if (t === "userid") return "user_id";
  if (t === "anonymousid" || t === "anonymous") return "anonymous_id";
  return t;
}

function asObject(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
