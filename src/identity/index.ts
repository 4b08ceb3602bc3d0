export { resolveEvents, loadRules, type LogEvent, type Resolution } from "./resolve.ts";
export {
  identityRulesSchema,
  withDefaults,
  DEFAULT_RULES,
  BUILTIN_TYPES,
  type IdentityRules,
} from "./core/rules.ts";
export { extractIdentifiers, type Identifier } from "./core/extract.ts";
