import { Page } from "../../ui/components.tsx";

export default function EventsPage() {
  return <Page title="events">Coming soon.</Page>;
}
