import type { PoolClient } from "pg";
import { getRows, lookupKey } from "../tables/index.ts";
import type { JourneyDefinition } from "./core/definition.ts";
import { renderTemplate } from "./core/template.ts";
import { scopeOf } from "./engine/entry.ts";
import type { Message, ProfileData } from "./engine/types.ts";

/**
 * The journey's lookups for a new instance: each key rendered against the trigger (as
 * `context.trigger`), the rows read from the data tables in one query. A missing row reads as null.
 */
export async function resolveLookups(
  tx: PoolClient,
  workspaceId: string,
  def: JourneyDefinition,
  trigger: Message,
  profile: ProfileData,
): Promise<Record<string, unknown>> {
  const entries = Object.entries(def.context.lookups);
  if (entries.length === 0) return {};
  const scope = scopeOf(trigger, profile, { trigger }, null);
  const wanted = entries.map(([name, l]) => {
    let key: unknown;
    try {
      key = renderTemplate(l.key, scope);
    } catch {
      key = undefined;
    }
    return { name, table: l.table, key: key === undefined || key === null ? "" : String(key) };
  });
  const rows = await getRows(
    tx,
    workspaceId,
    wanted.filter((w) => w.key !== "").map((w) => ({ table: w.table, key: w.key })),
  );
  return Object.fromEntries(wanted.map((w) => [w.name, rows.get(lookupKey(w.table, w.key)) ?? null]));
}
