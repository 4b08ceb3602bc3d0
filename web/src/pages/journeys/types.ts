// The journey API's answers, typed by the server's own functions (type-only imports, erased from the
// bundle), so the pages cannot drift from what src/server/routes/journeys.ts sends.
import type {
  InstanceView,
  JourneyListItem,
  getInstance,
  getJourney,
  journeyStats,
} from "../../../../src/journeys/index.ts";

export type { Violation } from "../../../../src/journeys/index.ts";

/** GET /api/v1/journeys items. */
export type JourneySummary = JourneyListItem;
export type JourneyStatus = JourneySummary["status"];

/**
 * A definition as the pages handle it: a draft is whatever was saved (it may break every rule), so
 * the map and the editor read it field by field.
 */
export type Definition = Record<string, unknown> & { steps?: unknown };

type Detail = Awaited<ReturnType<typeof getJourney>>;

/** GET /api/v1/journeys/:key: the draft, its violations and every published version. */
export type JourneyDetail = Omit<Detail, "draft" | "versions"> & {
  draft: Definition;
  versions: Array<Omit<Detail["versions"][number], "definition"> & { definition: Definition }>;
};

/** GET /api/v1/journeys/:key/stats */
export type JourneyStats = Awaited<ReturnType<typeof journeyStats>>;
/** One step's numbers. */
export type StepStats = JourneyStats["steps"][number];

/** GET /api/v1/journeys/:key/instances items. */
export type Instance = InstanceView;
/** GET /api/v1/instances/:id */
export type InstanceDetail = Awaited<ReturnType<typeof getInstance>>;
export type TimelineEntry = InstanceDetail["timeline"][number];
