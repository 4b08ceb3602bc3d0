import { Page } from "../../ui/components.tsx";

export default function OverviewPage() {
  return <Page title="overview">Coming soon.</Page>;
}
