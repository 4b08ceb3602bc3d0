import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, setUnauthorizedHandler, storeToken, storedToken } from "./api.ts";

/** The workspace of the admin token, as GET /api/v1/workspace answers. */
export interface Workspace {
  id: string;
  name: string;
  writeKey: string;
  webhookSecret: string;
  createdAt: string;
}

interface Session {
  workspace: Workspace | null;
  /** Checks the token against the server; stores it when valid, else throws the server's message. */
  signIn(token: string): Promise<void>;
  signOut(): void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionProvider");
  return s;
}

/** The signed-in workspace; `undefined` while the stored token is being checked. */
export function SessionProvider(props: { children: (workspace: Workspace | null | undefined) => ReactNode }) {
  const [workspace, setWorkspace] = useState<Workspace | null | undefined>(storedToken() ? undefined : null);

  const signOut = useCallback(() => {
    storeToken(null);
    setWorkspace(null);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(signOut);
    const token = storedToken();
    if (!token) return;
    api<Workspace>("/api/v1/workspace", { token }).then(setWorkspace, () => signOut());
  }, [signOut]);

  const session = useMemo<Session>(
    () => ({
      workspace: workspace ?? null,
      async signIn(token: string) {
        const ws = await api<Workspace>("/api/v1/workspace", { token });
        storeToken(token);
        setWorkspace(ws);
      },
      signOut,
    }),
    [workspace, signOut],
  );
  return <SessionContext.Provider value={session}>{props.children(workspace)}</SessionContext.Provider>;
}
