import type { Pool } from "pg";
import { findByAdminToken, findByWriteKey, type Workspace } from "./store.ts";

/**
 * Resolves write keys and admin tokens to workspaces with a short-lived cache, so the tracking hot
 * path does not query per request. Unknown keys are cached too (briefly), so a client hammering with
 * a bad key costs one query per key per TTL.
 */
export class WorkspaceResolver {
  private readonly cache = new Map<string, { workspace: Workspace | null; until: number }>();

  constructor(
    private readonly pool: Pool,
    private readonly ttlMs = 30_000,
    private readonly missTtlMs = 2_000,
  ) {}

  byWriteKey(writeKey: string): Promise<Workspace | null> {
    return this.cached(`w:${writeKey}`, () => findByWriteKey(this.pool, writeKey));
  }

  byAdminToken(token: string): Promise<Workspace | null> {
    return this.cached(`a:${token}`, () => findByAdminToken(this.pool, token));
  }

  private async cached(key: string, load: () => Promise<Workspace | null>): Promise<Workspace | null> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.workspace;
    const workspace = await load();
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { workspace, until: now + (workspace ? this.ttlMs : this.missTtlMs) });
    return workspace;
  }
}
