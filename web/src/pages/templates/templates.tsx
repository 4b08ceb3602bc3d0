import { Page } from "../../ui/components.tsx";

export default function TemplatesPage() {
  return <Page title="templates">Coming soon.</Page>;
}
