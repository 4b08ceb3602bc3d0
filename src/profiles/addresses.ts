import type { Person } from "./person.ts";

/**
 * The person's addresses as messaging's suppression list keys them, as a CTE `their_addresses(channel,
 * address_hash)`: the email and phone identifiers of their profiles, and every address a message to
 * them went to (email, SMS, push). Normalised and hashed exactly as `normaliseAddress`/`addressHash`
 * in src/messaging/consent.ts do (email trimmed and lower-cased, a phone number's digits with a
 * leading +, others trimmed; sha256, hex). Plain SQL over messaging's tables: profiles may not import
 * messaging's internals. Its parameters are $1 to $4 (`theirAddressParams`).
 */
export const THEIR_ADDRESSES = `
  their_raw(channel, address) AS (
    SELECT CASE i.type WHEN 'email' THEN 'email' ELSE 'sms' END, i.value
    FROM unnest($3::text[], $4::text[]) AS i(type, value) WHERE i.type IN ('email', 'phone')
    UNION ALL
    SELECT channel, to_address FROM messages
    WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND to_address IS NOT NULL
      AND channel IN ('email', 'sms', 'push')
  ), their_normalised AS (
    SELECT DISTINCT channel, CASE channel
        WHEN 'email' THEN lower(btrim(address, E' \\t\\n\\r\\f\\v'))
        WHEN 'sms' THEN CASE WHEN btrim(address, E' \\t\\n\\r\\f\\v') LIKE '+%' THEN '+' ELSE '' END
                        || regexp_replace(address, '[^0-9]', '', 'g')
        ELSE btrim(address, E' \\t\\n\\r\\f\\v') END AS address
    FROM their_raw
  ), their_addresses AS (
    SELECT channel, encode(sha256(convert_to(address, 'UTF8')), 'hex') AS address_hash
    FROM their_normalised WHERE address NOT IN ('', '+')
  )`;

/** The parameters $1 to $4 of `THEIR_ADDRESSES`. */
export function theirAddressParams(person: Person): unknown[] {
  return [
    person.workspaceId,
    person.profileIds,
    person.identifiers.map((i) => i.type),
    person.identifiers.map((i) => i.value),
  ];
}
