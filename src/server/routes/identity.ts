import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  SUGGESTION_STATUSES,
  confirmSuggestion,
  dismissSuggestion,
  identityRulesSchema,
  listDecisions,
  listSuggestions,
  loadRules,
  saveRules,
} from "../../identity/index.ts";
import type { ServerDeps } from "../context.ts";

const page = {
  limit: z.coerce.number().int().min(1).max(1000).default(50).describe("items per page (1-1000)"),
  cursor: z.string().optional().describe("nextCursor of the previous page"),
};
const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

const decisionSchema = z.object({
  id: z.number().int(),
  kind: z.string().describe("blocked, dropped (a limit) or merge_refused"),
  identifier: z.object({ type: z.string(), value: z.string() }),
  profileId: z.string().nullable().describe("the profile the event resolved to"),
  otherProfileId: z.string().nullable().describe("for a refused merge: the profile not merged"),
  reason: z.string(),
  eventSeq: z.number().int().describe("the event that caused the decision"),
  at: z.string(),
});

const suggestionSchema = z.object({
  id: z.number().int(),
  profileId: z.string().describe("seen with the device first; survives a confirmed merge"),
  otherProfileId: z.string(),
  score: z.number().describe("1: seen at the same moment; 0.5: at the edge of the window"),
  signals: z.record(z.string(), z.unknown()),
  status: z.enum(SUGGESTION_STATUSES),
  createdAt: z.string(),
  decidedAt: z.string().nullable(),
  mergeEventSeq: z.number().int().nullable().describe("the merge event a confirmation appended"),
});

const suggestionParams = z.object({
  id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).describe("a suggestion id"),
});

/** Identity rules, decisions and stitching suggestions (admin token). */
export async function identityRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());
  const common = { tags: ["identity"], security: [{ adminToken: [] }] };
  r.get(
    "/api/v1/identity/rules",
    {
      schema: {
        ...common,
        summary: "The workspace's effective identity rules (stored over the defaults)",
        response: { 200: identityRulesSchema },
      },
    },
    async (req) => loadRules(deps.pool, req.workspace.id),
  );
  r.put(
    "/api/v1/identity/rules",
    {
      schema: {
        ...common,
        summary: "Replace the identity rules; fields left out take their defaults",
        description:
          "Limits and trait keys merge over the defaults key by key (lift a default limit with null). " +
          "The rules apply to events resolved from now on; nothing already resolved is redone.",
        body: identityRulesSchema,
        response: { 200: identityRulesSchema },
      },
    },
    async (req) => saveRules(deps.pool, req.workspace.id, req.body),
  );
  r.get(
    "/api/v1/identity/decisions",
    {
      schema: {
        ...common,
        summary: "Identity decisions (blocked values, dropped identifiers, refused merges), newest first",
        querystring: z.strictObject({
          ...page,
          profileId: z.string().optional().describe("only those about this person, under any of their ids"),
        }),
        response: { 200: pageOf(decisionSchema) },
      },
    },
    async (req) => {
      const { limit, cursor, profileId } = req.query;
      return listDecisions(deps.pool, req.workspace.id, { profileId }, { limit, cursor });
    },
  );
  r.get(
    "/api/v1/identity/suggestions",
    {
      schema: {
        ...common,
        summary: "Visitor stitching suggestions, newest first",
        querystring: z.strictObject({ ...page, status: z.enum(SUGGESTION_STATUSES).optional() }),
        response: { 200: pageOf(suggestionSchema) },
      },
    },
    async (req) => {
      const { limit, cursor, status } = req.query;
      return listSuggestions(deps.pool, req.workspace.id, { status }, { limit, cursor });
    },
  );
  r.post(
    "/api/v1/identity/suggestions/:id/confirm",
    {
      schema: {
        ...common,
        summary: "Confirm a suggestion: merge the two profiles",
        description:
          "Appends a merge event to the log; the pipeline merges in order, with the limits applied " +
          "(a refusal shows in the decisions, at mergeEventSeq).",
        params: suggestionParams,
        response: { 200: suggestionSchema },
      },
    },
    async (req) => confirmSuggestion(deps.pool, req.workspace.id, req.params.id, now()),
  );
  r.post(
    "/api/v1/identity/suggestions/:id/dismiss",
    {
      schema: {
        ...common,
        summary: "Dismiss a suggestion: nothing is merged and the pair is not suggested again",
        params: suggestionParams,
        response: { 200: suggestionSchema },
      },
    },
    async (req) => dismissSuggestion(deps.pool, req.workspace.id, req.params.id, now()),
  );
}
