export { workspaceOverview, type Overview } from "./overview.ts";
export {
  BUCKET_SECONDS,
  fillSeries,
  seriesWindow,
  startOfUtcDay,
  sumSince,
  type SeriesWindow,
} from "./core/series.ts";
