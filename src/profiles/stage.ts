import type { PoolClient } from "pg";
import type { AppliedEvent, PipelineStage } from "../pipeline/index.ts";
import { EMPTY_PROFILE, absorbProfile, applyEvent, type ProfileState } from "./core/apply.ts";

/** A `profiles` row as the stage and the reads select it. */
export interface ProfileRow {
  workspace_id: string;
  id: string;
  traits: Record<string, unknown>;
  trait_times: Record<string, string>;
  first_seen: Date | null;
  last_seen: Date | null;
  last_ip: string | null;
  location: Record<string, unknown> | null;
  timezone: string | null;
  device: Record<string, unknown> | null;
  event_count: number;
  counts: Record<string, number>;
}

/**
 * The columns of a `ProfileRow`, named rather than `*` in the named (prepared) statements that read
 * them: a migration adding a column to `profiles` must not change the result of a statement a running
 * process has prepared (PostgreSQL refuses to run it: "cached plan must not change result type").
 */
export const PROFILE_COLUMNS = [
  "workspace_id",
  "id",
  "traits",
  "trait_times",
  "first_seen",
  "last_seen",
  "last_ip",
  "location",
  "timezone",
  "device",
  "event_count",
  "counts",
] as const;

const keyOf = (workspaceId: string, id: string) => `${workspaceId}/${id}`;

/** The profile stage: folds each resolved event (and each merge) into the profile's traits and counts. */
export const profileStage: PipelineStage = {
  name: "profiles",
  async apply(tx: PoolClient, events: AppliedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const wanted = new Map<string, Set<string>>();
    for (const e of events) {
      const ids = wanted.get(e.workspaceId) ?? new Set<string>();
      for (const id of [e.profileId, ...e.merged]) ids.add(id);
      wanted.set(e.workspaceId, ids);
    }
    // Locked per workspace in (workspace, id) order, the order a merge locks them in (no deadlock).
    const rows: ProfileRow[] = [];
    for (const w of [...wanted.keys()].sort()) {
      const { rows: found } = await tx.query<ProfileRow>({
        name: "profiles-stage-lock",
        text: `SELECT ${PROFILE_COLUMNS.join(", ")}
               FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`,
        values: [w, [...wanted.get(w)!]],
      });
      rows.push(...found);
    }
    const state = new Map<string, ProfileState>(rows.map((r) => [keyOf(r.workspace_id, r.id), fromRow(r)]));
    const touched = new Set<string>();
    for (const e of events) {
      const k = keyOf(e.workspaceId, e.profileId);
      let p = state.get(k) ?? EMPTY_PROFILE;
      for (const m of e.merged) {
        const mk = keyOf(e.workspaceId, m);
        p = absorbProfile(p, state.get(mk) ?? EMPTY_PROFILE);
      }
      state.set(k, applyEvent(p, e.message));
      touched.add(k);
    }
    const out = [...touched].map((k) => ({ k, p: state.get(k)! }));
    await tx.query({
      name: "profiles-stage-update",
      text: `UPDATE profiles p SET traits = x.traits, trait_times = x.trait_times, first_seen = x.first_seen,
         last_seen = x.last_seen, last_ip = x.last_ip, location = x.location, timezone = x.timezone,
         device = x.device, event_count = x.event_count, counts = x.counts, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS x(w uuid, id uuid, traits jsonb, trait_times jsonb,
         first_seen timestamptz, last_seen timestamptz, last_ip text, location jsonb, timezone text,
         device jsonb, event_count bigint, counts jsonb)
       WHERE p.workspace_id = x.w AND p.id = x.id`,
      values: [
        JSON.stringify(
          out.map(({ k, p }) => ({
            w: k.split("/")[0],
            id: k.split("/")[1],
            traits: p.traits,
            trait_times: p.traitTimes,
            first_seen: p.firstSeen,
            last_seen: p.lastSeen,
            last_ip: p.lastIp,
            location: p.location,
            timezone: p.timezone,
            device: p.device,
            event_count: p.eventCount,
            counts: p.counts,
          })),
        ),
      ],
    });
  },
};

/** The folded state of a `profiles` row. */
export function fromRow(r: ProfileRow): ProfileState {
  return {
    traits: r.traits,
    traitTimes: r.trait_times,
    firstSeen: r.first_seen?.toISOString() ?? null,
    lastSeen: r.last_seen?.toISOString() ?? null,
    lastIp: r.last_ip,
    location: r.location,
    timezone: r.timezone,
    device: r.device,
    eventCount: Number(r.event_count),
    counts: r.counts,
  };
}
