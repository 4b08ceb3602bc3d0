// The validator the API and the CLI use, run in the browser on every change of the draft.
export { validateJourney } from "../../../../../src/journeys/core/validate.ts";
