import { Page } from "../../ui/components.tsx";

export default function JourneysPage() {
  return <Page title="journeys">Coming soon.</Page>;
}
