import { Page } from "../../ui/components.tsx";

export default function SettingsPage() {
  return <Page title="settings">Coming soon.</Page>;
}
