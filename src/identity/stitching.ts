import { createHash } from "node:crypto";
import type { PoolClient } from "pg";
import { brokenLimit, limitOf, type IdentityRules } from "./core/rules.ts";
import { deviceOf, planStitches, type DeviceEvent, type Sighting } from "./core/stitch.ts";
import { loadCounts } from "./graph-store.ts";

const MINUTE = 60_000;

/** A device's key in device_sightings: no raw IP address is kept there. */
const signalOf = (ip: string, userAgent: string) =>
  createHash("sha256").update(`${ip}\n${userAgent}`).digest("base64url");

/**
 * Visitor stitching for one resolved batch, inside stage one's transaction (so in seq order, one
 * batch of a workspace at a time: two profiles seen together are never missed by a race between
 * partitions). Loads the recent sightings of the batch's devices, plans the suggestions (pure), and
 * stores suggestions and sightings. It never merges: a person confirms a suggestion through the API.
 */
export async function suggestStitches(
  client: PoolClient,
  workspaceId: string,
  events: Array<{ seq: number; message: Record<string, unknown> }>,
  resolved: Array<{ profileId: string; merged: string[] }>,
  rules: IdentityRules,
): Promise<void> {
  // Suggestions are between profiles as they stand after the batch: follow the batch's merges.
  const survivor = new Map<string, string>();
  for (const r of resolved) for (const m of r.merged) survivor.set(m, r.profileId);
  const finalOf = (p: string) => {
    while (survivor.has(p)) p = survivor.get(p)!;
    return p;
  };
  const deviceEvents: DeviceEvent[] = [];
  events.forEach((e, i) => {
    const device = deviceOf(e.message);
    const at = Date.parse(String(e.message.timestamp));
    if (!device || !Number.isFinite(at)) return;
    const profileId = finalOf(resolved[i]!.profileId);
    deviceEvents.push({ seq: e.seq, profileId, signal: signalOf(device.ip, device.userAgent), at, device });
  });
  if (deviceEvents.length === 0) return;

  const windowMs = rules.stitching.windowMinutes * MINUTE;
  const signals = [...new Set(deviceEvents.map((e) => e.signal))];
  const since = new Date(Math.min(...deviceEvents.map((e) => e.at)) - windowMs);
  // Sightings of merged-away profiles count for their survivor; erased profiles drop out.
  const { rows } = await client.query<{
    signal: string;
    profile_id: string;
    last_seen: Date;
    event_seq: number;
  }>(
    `SELECT s.signal, coalesce(p.merged_into, p.id) AS profile_id, s.last_seen, s.event_seq
     FROM device_sightings s JOIN profiles p ON p.workspace_id = s.workspace_id AND p.id = s.profile_id
     WHERE s.workspace_id = $1 AND s.signal = ANY($2::text[]) AND s.last_seen >= $3`,
    [workspaceId, signals, since],
  );
  const known: Sighting[] = rows.map((r) => ({
    signal: r.signal,
    profileId: r.profile_id,
    at: r.last_seen.getTime(),
    seq: Number(r.event_seq),
  }));
  const profiles = [...new Set([...known.map((s) => s.profileId), ...deviceEvents.map((e) => e.profileId)])];
  const counts = await loadCounts(client, workspaceId, profiles);
  const limit = (type: string) => limitOf(rules, type);
  const canMerge = (a: string, b: string) =>
    brokenLimit(limit, counts.get(a) ?? {}, counts.get(b) ?? {}) === undefined;

  const { suggestions, sightings } = planStitches(deviceEvents, known, windowMs, canMerge);
  await client.query(
    `INSERT INTO device_sightings (workspace_id, signal, profile_id, last_seen, event_seq)
     SELECT $1, signal, profile_id, at, seq
     FROM unnest($2::text[], $3::uuid[], $4::timestamptz[], $5::bigint[]) AS x(signal, profile_id, at, seq)
     ON CONFLICT (workspace_id, signal, profile_id) DO UPDATE
       SET last_seen = greatest(device_sightings.last_seen, excluded.last_seen),
           event_seq = greatest(device_sightings.event_seq, excluded.event_seq)`,
    [
      workspaceId,
      sightings.map((s) => s.signal),
      sightings.map((s) => s.profileId),
      sightings.map((s) => new Date(s.at)),
      sightings.map((s) => s.seq),
    ],
  );
  // Sightings past the window tell nothing more; prune those of the devices seen now.
  await client.query(
    "DELETE FROM device_sightings WHERE workspace_id = $1 AND signal = ANY($2::text[]) AND last_seen < $3",
    [workspaceId, signals, since],
  );
  if (suggestions.length === 0) return;
  // One suggestion per pair whichever way round; a pair already confirmed or dismissed stays so.
  await client.query(
    `INSERT INTO stitch_suggestions AS s (workspace_id, profile_id, other_profile_id, score, signals)
     SELECT $1, x.a, x.b, x.score, x.signals
     FROM unnest($2::uuid[], $3::uuid[], $4::real[], $5::jsonb[]) AS x(a, b, score, signals)
     WHERE NOT EXISTS (SELECT 1 FROM stitch_suggestions r
                       WHERE r.workspace_id = $1 AND r.profile_id = x.b AND r.other_profile_id = x.a)
     ON CONFLICT (workspace_id, profile_id, other_profile_id) DO UPDATE
       SET score = excluded.score, signals = excluded.signals
       WHERE s.status = 'suggested' AND excluded.score > s.score`,
    [
      workspaceId,
      suggestions.map((s) => s.profileId),
      suggestions.map((s) => s.otherProfileId),
      suggestions.map((s) => s.score),
      suggestions.map((s) => JSON.stringify(s.signals)),
    ],
  );
}
