// The journey engine's pure core, shared with the server: the same definition schema, graph and
// validator the API and the CLI use (src/journeys/core/* depends only on zod, liquidjs and croner).
export {
  STEP_KINDS,
  journeyDefinitionSchema,
  type JourneyDefinition,
  type Step,
  type StepKind,
} from "../../../../src/journeys/core/definition.ts";
export { edgesOf, type Edge } from "../../../../src/journeys/core/graph.ts";
export { validateJourney, type Violation } from "../../../../src/journeys/core/validate.ts";
