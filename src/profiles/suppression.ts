import { createHash } from "node:crypto";
import { DEFAULT_RULES, loadRules, type Identifier, type IdentityRules } from "../identity/index.ts";
import type { EventRow, Rejection } from "../ingest/index.ts";
import { rejectedKeys, suppressionKeys } from "./core/suppress.ts";
import type { Queryable } from "./read.ts";

/**
 * How an erased identifier is stored: sha256 over workspace id, type and value, NUL-separated
 * (neither ids nor types can hold a NUL), hex. The value is normalised as the resolver stores it
 * (emails trimmed and lower-cased), so a later event matches whatever case it is sent in. The
 * workspace id salts it per workspace; the hash still lets whoever holds a value check whether it
 * was erased, which is exactly what suppression needs, and nothing more.
 */
export function suppressionHash(workspaceId: string, id: Identifier): string {
  return createHash("sha256").update(`${workspaceId}\u0000${id.type}\u0000${id.value}`).digest("hex");
}

/** What is left of a request's messages once an erased person's are taken out. */
export interface Screened {
  events: EventRow[];
  rejections: Rejection[];
  /** Messages dropped unstored because they carry a suppressed identifier (valid or refused). */
  suppressed: number;
}

interface Entry {
  hashes: Set<string>;
  rules: IdentityRules;
  checkedAt: number;
}

export interface SuppressionOptions {
  /**
   * How often a workspace's list is checked against the table. An erasure in this process takes
   * effect at once (invalidate); one made by another process (another server, the CLI) within this.
   */
  refreshMs?: number;
  /** Milliseconds clock, for the refresh (tests may drive it). */
  clock?: () => number;
}

/**
 * The suppression list of erased identifiers, as ingest checks it: an in-memory set of hashes per
 * workspace, refreshed from `suppressed_identifiers` every few seconds (one cheap count query; the
 * hashes are reloaded only when the count changed). A workspace with nothing suppressed costs no
 * work per message.
 */
export class SuppressionList {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  /** Bumped by invalidate, so a load that started before an erasure is not kept after it. */
  private readonly generations = new Map<string, number>();
  private readonly refreshMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly db: Queryable,
    options: SuppressionOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 5_000;
    this.clock = options.clock ?? Date.now;
  }

  /** Forgets a workspace's list, so the next check reloads it (called after an erasure). */
  invalidate(workspaceId: string): void {
    this.entries.delete(workspaceId);
    this.loading.delete(workspaceId);
    this.generations.set(workspaceId, (this.generations.get(workspaceId) ?? 0) + 1);
  }

  /**
   * Takes out the messages carrying a suppressed identifier and counts them in
   * `suppression_counts`. Refused messages are taken out too: their raw text would keep the erased
   * person's identifiers as a dead letter.
   */
  async screen(workspaceId: string, events: EventRow[], rejections: Rejection[]): Promise<Screened> {
    const entry = await this.current(workspaceId);
    if (entry.hashes.size === 0) return { events, rejections, suppressed: 0 };
    const hit = (ids: Identifier[] | null) =>
      ids !== null && ids.some((id) => entry.hashes.has(suppressionHash(workspaceId, id)));
    const keptEvents = events.filter((e) => !hit(suppressionKeys(e.message, entry.rules)));
    const keptRejections = rejections.filter((r) => !hit(rejectedKeys(r.raw, entry.rules)));
    const suppressed = events.length - keptEvents.length + rejections.length - keptRejections.length;
    if (suppressed > 0) {
      await this.db.query(
        `INSERT INTO suppression_counts (workspace_id, dropped) VALUES ($1, $2)
         ON CONFLICT (workspace_id) DO UPDATE SET dropped = suppression_counts.dropped + excluded.dropped`,
        [workspaceId, suppressed],
      );
    }
    return { events: keptEvents, rejections: keptRejections, suppressed };
  }

  private async current(workspaceId: string): Promise<Entry> {
    const entry = this.entries.get(workspaceId);
    if (entry && this.clock() - entry.checkedAt < this.refreshMs) return entry;
    const inFlight = this.loading.get(workspaceId);
    if (inFlight) return inFlight;
    const pending: Promise<Entry> = this.load(workspaceId, entry).finally(() => {
      if (this.loading.get(workspaceId) === pending) this.loading.delete(workspaceId);
    });
    this.loading.set(workspaceId, pending);
    return pending;
  }

  private async load(workspaceId: string, previous: Entry | undefined): Promise<Entry> {
    const checkedAt = this.clock();
    const generation = this.generations.get(workspaceId) ?? 0;
    const { rows } = await this.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM suppressed_identifiers WHERE workspace_id = $1",
      [workspaceId],
    );
    const n = rows[0]!.n;
    let hashes = previous?.hashes ?? new Set<string>();
    // Rows are only ever added (an erasure) or removed with their workspace: an unchanged count is an
    // unchanged list.
    if (n !== hashes.size) {
      const all = await this.db.query<{ hash: string }>(
        "SELECT hash FROM suppressed_identifiers WHERE workspace_id = $1",
        [workspaceId],
      );
      hashes = new Set(all.rows.map((r) => r.hash));
    }
    // The identity rules say which trait keys carry identifiers; only needed when there is a list.
    const rules = n > 0 ? await loadRules(this.db, workspaceId) : DEFAULT_RULES;
    const entry = { hashes, rules, checkedAt };
    if ((this.generations.get(workspaceId) ?? 0) === generation) this.entries.set(workspaceId, entry);
    return entry;
  }
}
