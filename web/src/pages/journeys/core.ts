// The journey engine's pure core, shared with the server: the same definition schema and graph the API,
// the CLI and the engine use (the editor imports the validator itself: it brings the template engine).
import { journeyDefinitionSchema } from "../../../../src/journeys/core/definition.ts";
import type { Definition } from "./types.ts";

export {
  STEP_KINDS,
  type JourneyDefinition,
  type Step,
  type StepKind,
} from "../../../../src/journeys/core/definition.ts";
export { edgesOf, type Edge } from "../../../../src/journeys/core/graph.ts";

/** A definition as publishing would store it: parsed, defaults applied (as is when it does not parse). */
export function normalized(def: Definition): Definition {
  const parsed = journeyDefinitionSchema.safeParse(def);
  return parsed.success ? (parsed.data as unknown as Definition) : def;
}
