import { Link, useLocation } from "react-router";
import { EmptyState, Page } from "../ui/components.tsx";

export function NotFound() {
  const { pathname } = useLocation();
  return (
    <Page title="Not found">
      <EmptyState title={`Nothing at ${pathname}`}>
        <p>
          The link may be old, or the thing it named was deleted. <Link to="/">Back to the overview</Link>.
        </p>
      </EmptyState>
    </Page>
  );
}
