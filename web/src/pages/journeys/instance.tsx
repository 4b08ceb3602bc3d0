import { Page } from "../../ui/components.tsx";

export default function InstancePage() {
  return <Page title="instance">Coming soon.</Page>;
}
