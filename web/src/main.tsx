import { StrictMode, lazy } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, RouterProvider } from "react-router";
import { Layout } from "./layout.tsx";
import { SignIn } from "./pages/sign-in.tsx";
import { NotFound } from "./pages/not-found.tsx";
import { SessionProvider } from "./session.tsx";
import { Loading } from "./ui/components.tsx";
import "./styles.css";

// Each area is its own chunk: the journey map (xyflow, elkjs) and the charts (echarts) load only on
// the pages that draw them, which keeps the main bundle small.
const Overview = lazy(() => import("./pages/overview/overview.tsx"));
const Events = lazy(() => import("./pages/events/events.tsx"));
const Profiles = lazy(() => import("./pages/profiles/profiles.tsx"));
const ProfilePage = lazy(() => import("./pages/profiles/profile.tsx"));
const Journeys = lazy(() => import("./pages/journeys/journeys.tsx"));
const JourneyPage = lazy(() => import("./pages/journeys/journey.tsx"));
const InstancePage = lazy(() => import("./pages/journeys/instance.tsx"));
const Templates = lazy(() => import("./pages/templates/templates.tsx"));
const TemplatePage = lazy(() => import("./pages/templates/template.tsx"));
const Settings = lazy(() => import("./pages/settings/settings.tsx"));

const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: "/", element: <Overview /> },
      { path: "/events", element: <Events /> },
      { path: "/profiles", element: <Profiles /> },
      { path: "/profiles/:id", element: <ProfilePage /> },
      { path: "/journeys", element: <Journeys /> },
      { path: "/journeys/:key", element: <JourneyPage /> },
      { path: "/instances/:id", element: <InstancePage /> },
      { path: "/templates", element: <Templates /> },
      { path: "/templates/:key", element: <TemplatePage /> },
      { path: "/settings", element: <Settings /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <SessionProvider>
      {(workspace) =>
        workspace === undefined ? (
          <Loading label="Signing in…" />
        ) : workspace === null ? (
          <SignIn />
        ) : (
          <RouterProvider router={router} />
        )
      }
    </SessionProvider>
  </StrictMode>,
);
