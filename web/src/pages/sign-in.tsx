import { useState } from "react";
import { useSession } from "../session.tsx";

/** Sign-in with the workspace's admin token (later: users and roles). */
export function SignIn() {
  const { signIn } = useSession();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <main className="sign-in">
      <form
        className="card sign-in-card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            await signIn(token.trim());
          } catch (err) {
            setError(err instanceof Error ? err.message : String(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Waymark
        </div>
        <h1>Sign in</h1>
        <p className="muted">
          Paste your workspace&apos;s <strong>admin token</strong>. The server wrote it to{" "}
          <code>credentials.json</code> in its data directory on first start (
          <code>./.waymark/credentials.json</code> unless you set <code>--data-dir</code> or{" "}
          <code>WAYMARK_DATA_DIR</code>); the start banner of <code>npx waymark start</code> prints its path.
        </p>
        <label className="field">
          <span>Admin token</span>
          <input
            name="token"
            type="password"
            autoComplete="current-password"
            autoFocus
            required
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
        </label>
        {error ? (
          <div className="error-box" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" className="btn btn-primary" disabled={busy || !token.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
