/**
 * The settings object `@segment/analytics-next` loads from `<cdnURL>/v1/projects/<writeKey>/settings`.
 * It names no destination to load in the browser and points the Segment.io integration, which sends
 * every call, at this server.
 */
export function segmentSettings(writeKey: string, baseUrl: string): Record<string, unknown> {
  const url = new URL(baseUrl);
  return {
    integrations: {
      "Segment.io": {
        apiKey: writeKey,
        apiHost: `${url.host}/v1`,
        protocol: url.protocol.replace(":", ""),
        unbundledIntegrations: [],
        addBundledMetadata: true,
        maybeBundledConfigIds: {},
        versionSettings: { version: "4.4.7", componentTypes: ["browser"] },
      },
    },
    plan: {
      track: { __default: { enabled: true, integrations: {} } },
      identify: { __default: { enabled: true } },
      group: { __default: { enabled: true } },
    },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}
