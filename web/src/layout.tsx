import { Suspense } from "react";
import { NavLink, Outlet } from "react-router";
import { useSession } from "./session.tsx";
import { ErrorBoundary } from "./ui/error-boundary.tsx";
import { Loading } from "./ui/components.tsx";

const NAV = [
  { to: "/", label: "Overview", end: true },
  { to: "/events", label: "Events" },
  { to: "/profiles", label: "Profiles" },
  { to: "/journeys", label: "Journeys" },
  { to: "/templates", label: "Templates" },
  { to: "/settings", label: "Settings" },
];

/** The frame of every signed-in page: navigation on the left, the page on the right. */
export function Layout() {
  const { workspace, signOut } = useSession();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Waymark
        </div>
        <ul>
          {NAV.map((n) => (
            <li key={n.to}>
              <NavLink
                to={n.to}
                end={n.end ?? false}
                className={({ isActive }) => (isActive ? "active" : "")}
              >
                {n.label}
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="sidebar-footer">
          <div className="muted small" title={workspace?.id}>
            Workspace <strong>{workspace?.name}</strong>
          </div>
          <button type="button" className="btn btn-small btn-ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        <ErrorBoundary>
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </ErrorBoundary>
      </main>
    </div>
  );
}
