import { randomUUID } from "node:crypto";
import type { PoolClient } from "pg";
import type { AppliedEvent, PipelineStage } from "../pipeline/index.ts";
import { advance, enter } from "./engine/advance.ts";
import { decideEntry, entryKeyOf, reaches, triggers } from "./engine/entry.ts";
import type { AdvanceResult, Instance, JourneyVersion, Message, ProfileData } from "./engine/types.ts";
import { liveJourneys, type VersionCache } from "./definitions.ts";
import { instanceOf, loadProfiles, lockInstancesOfProfiles, saveResults } from "./instances.ts";
import { resolveLookups } from "./lookups.ts";
import { apiTriggerOf } from "./trigger.ts";

export interface JourneyRuntimeOptions {
  versions: VersionCache;
  now?: () => Date;
  newId?: () => string;
}

/**
 * The journey stage of the pipeline: each event, in order per person, first reaches that person's
 * running instances (whose entry key it carries), then may start new ones. State, audit rows and
 * effects commit in the pipeline's transaction, together with the event being marked applied.
 */
export function journeyStage(options: JourneyRuntimeOptions): PipelineStage {
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? randomUUID;
  return {
    name: "journeys",
    async apply(tx: PoolClient, events: AppliedEvent[]): Promise<void> {
      if (events.length === 0) return;
      const byWorkspace = new Map<string, AppliedEvent[]>();
      for (const e of events) byWorkspace.set(e.workspaceId, [...(byWorkspace.get(e.workspaceId) ?? []), e]);
      const journeys = await liveJourneys(tx, [...byWorkspace.keys()]);
      for (const [workspaceId, list] of byWorkspace) {
        const mine = journeys.filter((j) => j.workspaceId === workspaceId);
        await applyWorkspace(tx, workspaceId, list, mine, options.versions, now(), newId);
      }
    },
  };
}

async function applyWorkspace(
  tx: PoolClient,
  workspaceId: string,
  events: AppliedEvent[],
  journeys: Array<{ key: string; status: string; version: number }>,
  versions: VersionCache,
  now: Date,
  newId: () => string,
): Promise<void> {
  // A merge moves the merged person's instances to the surviving profile.
  const merged = events.filter((e) => e.merged.length > 0);
  for (const e of merged) {
    await tx.query(
      `UPDATE journey_instances SET profile_id = $2, updated_at = $4
       WHERE workspace_id = $1 AND profile_id = ANY($3::uuid[])`,
      [workspaceId, e.profileId, e.merged, now],
    );
  }
  const profileIds = [...new Set(events.map((e) => e.profileId))];
  const rows = await lockInstancesOfProfiles(tx, workspaceId, profileIds, now);
  if (rows.length === 0 && journeys.length === 0) return;
  const live = new Map<string, Instance[]>();
  for (const r of rows) live.set(r.profile_id, [...(live.get(r.profile_id) ?? []), instanceOf(r)]);
  const published = new Map<string, JourneyVersion>();
  for (const j of journeys) published.set(j.key, await versions.get(tx, workspaceId, j.key, j.version));
  const versionOf = (i: Instance) => versions.get(tx, workspaceId, i.journey, i.version);
  const profiles = await loadProfiles(tx, workspaceId, profileIds);
  const results: AdvanceResult[] = [];
  const created: Instance[] = [];

  for (const e of events) {
    const message = e.message as Message;
    const profile: ProfileData = profiles.get(e.profileId) ?? { id: e.profileId, traits: {} };
    const instances = live.get(e.profileId) ?? [];
    for (let n = 0; n < instances.length; n++) {
      const version = await versionOf(instances[n]!);
      if (!reaches(version.definition, instances[n]!, message, profile)) continue;
      const result = advance(
        version,
        instances[n]!,
        { kind: "event", event: message, profile, lookups: {} },
        now,
      );
      instances[n] = result.instance;
      results.push(result);
    }
    const forced = apiTriggerOf(message);
    for (const j of journeys) {
      if (j.status !== "active") continue;
      const version = published.get(j.key)!;
      const def = version.definition;
      if (forced ? forced !== j.key : !triggers(def, message, profile)) continue;
      const key = entryKeyOf(def, message, profile);
      if (key === undefined) continue;
      const history = await entryHistory(tx, workspaceId, j.key, e.profileId, key, instances, created);
      const decision = decideEntry(def, j.key, e.profileId, history, now);
      if (!decision.enter) continue;
      const lookups = await resolveLookups(tx, workspaceId, def, message, profile);
      const result = enter(
        version,
        { instanceId: newId(), profile, key, event: message, lookups, holdout: decision.holdout },
        now,
      );
      instances.push(result.instance);
      created.push(result.instance);
      results.push(result);
    }
    live.set(e.profileId, instances);
  }
  await saveResults(tx, workspaceId, results, now);
}

/** Entry history: the stored instances, updated by what this batch has started or ended. */
async function entryHistory(
  tx: PoolClient,
  workspaceId: string,
  journey: string,
  profileId: string,
  key: string | null,
  inBatch: Instance[],
  created: Instance[],
) {
  const { rows } = await tx.query<{ count: string; ever: boolean; last_ended: Date | null }>(
    `SELECT count(*) AS count,
            coalesce(bool_or(key IS NOT DISTINCT FROM $4), false) AS ever,
            max(ended_at) FILTER (WHERE key IS NOT DISTINCT FROM $4) AS last_ended
     FROM journey_instances WHERE workspace_id = $1 AND profile_id = $2 AND journey_key = $3`,
    [workspaceId, profileId, journey, key],
  );
  const r = rows[0]!;
  const same = inBatch.filter((i) => i.journey === journey && i.key === key);
  const lastEnded = [r.last_ended?.toISOString() ?? null, ...same.map((i) => i.endedAt)]
    .filter((x): x is string => x !== null)
    .sort()
    .at(-1);
  return {
    count: Number(r.count) + created.filter((i) => i.journey === journey && i.profileId === profileId).length,
    ever: r.ever || same.length > 0,
    // Every running instance of the person is loaded (and locked) in inBatch, with its latest state.
    live: same.some((i) => i.status === "active"),
    lastEndedAt: lastEnded ?? null,
  };
}
