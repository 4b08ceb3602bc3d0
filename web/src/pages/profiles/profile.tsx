import { Page } from "../../ui/components.tsx";

export default function ProfilePage() {
  return <Page title="profile">Coming soon.</Page>;
}
