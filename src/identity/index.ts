export { resolveEvents, type LogEvent, type Resolution } from "./resolve.ts";
export { loadRules, saveRules } from "./rules-store.ts";
export { listDecisions, countDecisions, type IdentityDecision } from "./decisions.ts";
export {
  listSuggestions,
  confirmSuggestion,
  dismissSuggestion,
  SUGGESTION_STATUSES,
  type StitchSuggestion,
  type SuggestionStatus,
} from "./suggestions.ts";
export {
  identityRulesSchema,
  withDefaults,
  DEFAULT_RULES,
  DEFAULT_BLOCKED,
  BUILTIN_TYPES,
  type IdentityRules,
} from "./core/rules.ts";
export { extractIdentifiers, normaliseType, normaliseValue, type Identifier } from "./core/extract.ts";
export { MERGE_EVENT } from "./core/merge.ts";
