import { Page } from "../../ui/components.tsx";

export default function TemplatePage() {
  return <Page title="template">Coming soon.</Page>;
}
