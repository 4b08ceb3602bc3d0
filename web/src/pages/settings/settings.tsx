import { useSearchParams } from "react-router";
import { Page } from "../../ui/components.tsx";
import { ChannelsSection } from "./channels.tsx";
import { KeysSection } from "./keys.tsx";
import { PolicySection } from "./policy.tsx";
import { TopicsSection } from "./topics.tsx";
import "./settings.css";

const TABS = [
  { id: "keys", label: "Keys" },
  { id: "channels", label: "Channels" },
  { id: "topics", label: "Topics" },
  { id: "policy", label: "Delivery policy" },
] as const;
type TabId = (typeof TABS)[number]["id"];

/** Settings: workspace keys, channels, topics and the delivery policy, one tab each (?tab= deep-links). */
export default function SettingsPage() {
  const [params, setParams] = useSearchParams();
  const tab: TabId = TABS.find((t) => t.id === params.get("tab"))?.id ?? "keys";
  const select = (id: TabId) => setParams(id === "keys" ? {} : { tab: id });
  return (
    <Page
      title="Settings"
      subtitle="Keys for tracking and webhooks, how messages go out, and what people subscribe to."
    >
      <div
        className="tabs"
        role="tablist"
        aria-label="Settings sections"
        onKeyDown={(e) => {
          // Arrow keys move between tabs, as the ARIA tabs pattern expects.
          if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
          const i = TABS.findIndex((t) => t.id === tab);
          const next = TABS[(i + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length]!;
          select(next.id);
          document.getElementById(`settings-tab-${next.id}`)?.focus();
        }}
      >
        {TABS.map((t) => (
          <button
            key={t.id}
            id={`settings-tab-${t.id}`}
            type="button"
            role="tab"
            aria-selected={t.id === tab}
            aria-controls={`settings-panel-${t.id}`}
            tabIndex={t.id === tab ? 0 : -1}
            onClick={() => select(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        id={`settings-panel-${tab}`}
        role="tabpanel"
        aria-labelledby={`settings-tab-${tab}`}
        className="settings-panel"
      >
        {tab === "keys" ? (
          <KeysSection />
        ) : tab === "channels" ? (
          <ChannelsSection />
        ) : tab === "topics" ? (
          <TopicsSection />
        ) : (
          <PolicySection />
        )}
      </div>
    </Page>
  );
}
