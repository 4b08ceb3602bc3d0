export {
  createWorkspace,
  findByWriteKey,
  findByAdminToken,
  listWorkspaces,
  hashToken,
  type Workspace,
  type WorkspaceKeys,
} from "./store.ts";
export { WorkspaceResolver } from "./key-cache.ts";
