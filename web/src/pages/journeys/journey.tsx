import { Page } from "../../ui/components.tsx";

export default function JourneyPage() {
  return <Page title="journey">Coming soon.</Page>;
}
