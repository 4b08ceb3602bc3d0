import { Page } from "../../ui/components.tsx";

export default function ProfilesPage() {
  return <Page title="profiles">Coming soon.</Page>;
}
