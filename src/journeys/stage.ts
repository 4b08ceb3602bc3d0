import { randomUUID } from "node:crypto";
import type { PoolClient } from "pg";
import type { AppliedEvent, PipelineStage } from "../pipeline/index.ts";
import { advance, enter } from "./engine/advance.ts";
import { decideEntry, entryKeyOf, reaches, triggers, type EntryHistory } from "./engine/entry.ts";
import type { AdvanceResult, Instance, JourneyVersion, Message, ProfileData } from "./engine/types.ts";
import { publishedJourneys, type VersionCache } from "./definitions.ts";
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
      const journeys = await publishedJourneys(tx, [...byWorkspace.keys()]);
      for (const [workspaceId, list] of byWorkspace) {
        const published = journeys.filter((j) => j.workspaceId === workspaceId);
        // Never published a journey: no instances to reach, nothing to enter (one query saved per batch).
        if (published.length === 0) continue;
        const live = published.filter((j) => j.status === "active" || j.status === "paused");
        await applyWorkspace(tx, workspaceId, list, live, options.versions, now(), newId);
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
  // Who may enter what: the stored history of every (journey, person) this batch could start, read
  // in one query, then kept up to date as the batch starts and ends instances.
  const history = await loadHistory(tx, workspaceId, events, journeys, published, profiles);

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
      history.record(result.instance);
    }
    const forced = apiTriggerOf(message);
    for (const j of journeys) {
      if (j.status !== "active") continue;
      const version = published.get(j.key)!;
      const def = version.definition;
      if (forced ? forced !== j.key : !triggers(def, message, profile)) continue;
      const key = entryKeyOf(def, message, profile);
      if (key === undefined) continue;
      const decision = decideEntry(
        def,
        j.key,
        e.profileId,
        history.of(j.key, e.profileId, key, instances),
        now,
      );
      if (!decision.enter) continue;
      const lookups = await resolveLookups(tx, workspaceId, def, message, profile);
      const result = enter(
        version,
        { instanceId: newId(), profile, key, event: message, lookups, holdout: decision.holdout },
        now,
      );
      instances.push(result.instance);
      history.record(result.instance, true);
      results.push(result);
    }
    live.set(e.profileId, instances);
  }
  await saveResults(tx, workspaceId, results, now);
}

interface KeyHistory {
  held: boolean;
  lastEndedAt: string | null;
}

/**
 * The entry history of the (journey, person) pairs a batch may start, from one grouped query; `record`
 * folds in what the batch does, `of` answers decideEntry's questions. Running instances are all
 * loaded (and locked) by the stage, so "live" comes from them.
 */
async function loadHistory(
  tx: PoolClient,
  workspaceId: string,
  events: AppliedEvent[],
  journeys: Array<{ key: string; status: string }>,
  published: Map<string, JourneyVersion>,
  profiles: Map<string, ProfileData>,
) {
  const pairs = new Set<string>();
  for (const e of events) {
    const message = e.message as Message;
    const profile = profiles.get(e.profileId) ?? { id: e.profileId, traits: {} };
    const forced = apiTriggerOf(message);
    for (const j of journeys) {
      if (j.status !== "active") continue;
      if (forced ? forced === j.key : triggers(published.get(j.key)!.definition, message, profile)) {
        pairs.add(`${j.key}\u0000${e.profileId}`);
      }
    }
  }
  const counts = new Map<string, number>();
  const keys = new Map<string, Map<string | null, KeyHistory>>();
  const pair = (journey: string, profileId: string) => `${journey}\u0000${profileId}`;
  const keyed = (p: string) => {
    let m = keys.get(p);
    if (!m) keys.set(p, (m = new Map()));
    return m;
  };
  if (pairs.size > 0) {
    const list = [...pairs].map((p) => p.split("\u0000") as [string, string]);
    const { rows } = await tx.query<{
      journey_key: string;
      profile_id: string;
      key: string | null;
      n: string;
      held: boolean;
      last_ended: Date | null;
    }>(
      // Per person, grouped inside a lateral subquery, so each person is one probe of
      // journey_instances_profile_idx, the one index on profile_id (pairs of other journeys are
      // dropped below). As a join, even a plain lateral one that PostgreSQL flattens, it hashed every
      // instance of the workspace for each batch (11 ms at 23,000 instances, growing with them); with
      // the journey in the condition, stale statistics let it walk a journey's instances instead.
      `SELECT x.p AS profile_id, i.journey_key, i.key, i.n, i.held, i.last_ended
       FROM unnest($2::uuid[]) AS x(p)
       CROSS JOIN LATERAL (
         SELECT journey_key, key, count(*) AS n, bool_or(status = 'held_out') AS held, max(ended_at) AS last_ended
         FROM journey_instances
         WHERE workspace_id = $1 AND profile_id = x.p
         GROUP BY journey_key, key) AS i`,
      [workspaceId, [...new Set(list.map((x) => x[1]))]],
    );
    for (const r of rows) {
      const p = pair(r.journey_key, r.profile_id);
      if (!pairs.has(p)) continue;
      counts.set(p, (counts.get(p) ?? 0) + Number(r.n));
      keyed(p).set(r.key, { held: r.held, lastEndedAt: r.last_ended?.toISOString() ?? null });
    }
  }
  return {
    /** Folds in an instance the batch started (`created`) or changed. */
    record(instance: Instance, created = false) {
      const p = pair(instance.journey, instance.profileId);
      if (created) counts.set(p, (counts.get(p) ?? 0) + 1);
      const k = keyed(p);
      const before = k.get(instance.key) ?? { held: false, lastEndedAt: null };
      const ended = [before.lastEndedAt, instance.endedAt].filter((x): x is string => x !== null).sort();
      k.set(instance.key, {
        held: before.held || instance.status === "held_out",
        lastEndedAt: ended.at(-1) ?? null,
      });
    },
    of(journey: string, profileId: string, key: string | null, running: Instance[]): EntryHistory {
      const p = pair(journey, profileId);
      const h = keys.get(p)?.get(key);
      return {
        // A held-out person stays out for that key: the control group is recorded once, not per event.
        live:
          running.some((i) => i.journey === journey && i.key === key && i.status === "active") || !!h?.held,
        ever: h !== undefined,
        lastEndedAt: h?.lastEndedAt ?? null,
        count: counts.get(p) ?? 0,
      };
    },
  };
}
