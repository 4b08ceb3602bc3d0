import { extractIdentifiers, type Identifier, type IdentityRules } from "../../identity/index.ts";

type Message = Record<string, unknown>;

/**
 * The identifiers to check against the suppression list for one message: every identifier the
 * resolver would read from it (userId, anonymousId, email and phone from identify traits and
 * context.traits, configured trait keys, context.externalIds, alias's previousId), and alias's
 * previousId also as a user_id, since the resolver may read it as one. Pure.
 */
export function suppressionKeys(message: Message, rules: IdentityRules): Identifier[] {
  const { identifiers } = extractIdentifiers(message, rules);
  const keys = [...identifiers];
  if (
    message.type === "alias" &&
    (typeof message.previousId === "string" || typeof message.previousId === "number")
  ) {
    keys.push({ type: "user_id", value: String(message.previousId).trim() });
  }
  return keys;
}

/**
 * The same for a refused message, read from its raw text: it may carry a type the resolver would
 * not read traits from, so traits are read whatever its type. Null when the text is not a JSON object.
 */
export function rejectedKeys(raw: string, rules: IdentityRules): Identifier[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(parsed)) return null;
  const message = parsed;
  // A refused batch as a whole: its items.
  const items = Array.isArray(message.batch) ? message.batch.filter(isObject) : [message];
  return items.flatMap((m) =>
    suppressionKeys({ ...m, type: m.type === "alias" ? "alias" : "identify" }, rules),
  );
}

function isObject(v: unknown): v is Message {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
