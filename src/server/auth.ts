import type { FastifyInstance } from "fastify";
import { UnauthorizedError } from "../errors/index.ts";
import type { WorkspaceResolver } from "../workspaces/index.ts";

/** Every route registered in `app` after this needs `Authorization: Bearer <adminToken>`. */
export function requireAdminToken(app: FastifyInstance, workspaces: WorkspaceResolver): void {
  app.decorateRequest("workspace", null as never);
  app.addHook("onRequest", async (req) => {
    const header = req.headers.authorization;
    const token = header?.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : "";
    if (!token) {
      throw new UnauthorizedError(
        "admin token required: send Authorization: Bearer <adminToken> (it is in credentials.json in the data dir)",
      );
    }
    const workspace = await workspaces.byAdminToken(token);
    if (!workspace) throw new UnauthorizedError("unknown admin token");
    req.workspace = workspace;
  });
}
