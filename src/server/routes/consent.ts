import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  CONSENT_CHANNELS,
  SUPPRESSION_REASONS,
  confirmUnsubscribePage,
  deleteTopic,
  deliveryPolicySchema,
  errorPage,
  getDeliveryPolicy,
  getSubscriptions,
  getTopic,
  linkNotFoundPage,
  listSuppressions,
  listTopics,
  openLink,
  preferencePage,
  preferencesOf,
  putDeliveryPolicy,
  putTopic,
  savePreferences,
  setSubscriptions,
  subscriptionInputSchema,
  suppress,
  topicInputSchema,
  topicKeySchema,
  topicNameOf,
  unsubscribeByLink,
  unsubscribedPage,
  unsuppress,
} from "../../messaging/index.ts";
import type { ServerDeps } from "../context.ts";
import { toResponse } from "../errors.ts";
import { PROFILE_REF } from "./profiles.ts";

const common = { tags: ["consent"], security: [{ adminToken: [] }] };

const topicView = topicInputSchema.extend({ key: z.string(), updatedAt: z.string() });
const topicParams = z.object({ key: topicKeySchema.describe("the topic's key") });
const subscriptionView = subscriptionInputSchema.extend({
  source: z.string().describe("api, identify, one_click or preference_page"),
  updatedAt: z.string(),
});
const profileParams = z.object({ id: z.string().describe(PROFILE_REF) });
const suppressionView = z.object({
  channel: z.string(),
  addressHash: z.string().describe("sha256 (hex) of the normalised address"),
  reason: z.string().describe("hard_bounce, complaint, manual or erased"),
  detail: z.string().nullable(),
  createdAt: z.string(),
});
const channelSchema = z.enum(CONSENT_CHANNELS);

/** Topics, subscriptions, the suppression list and the delivery policy (admin token). */
export async function consentRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());

  r.put(
    "/api/v1/topics/:key",
    {
      schema: {
        ...common,
        summary: "Create or replace a topic (what people subscribe to, per channel)",
        params: topicParams,
        body: topicInputSchema,
        response: { 200: topicView },
      },
    },
    async (req) => putTopic(deps.pool, req.workspace.id, req.params.key, req.body, now()),
  );
  r.get(
    "/api/v1/topics",
    {
      schema: {
        ...common,
        summary: "Every topic",
        response: { 200: z.object({ items: z.array(topicView) }) },
      },
    },
    async (req) => ({ items: await listTopics(deps.pool, req.workspace.id) }),
  );
  r.get(
    "/api/v1/topics/:key",
    { schema: { ...common, summary: "One topic", params: topicParams, response: { 200: topicView } } },
    async (req) => getTopic(deps.pool, req.workspace.id, req.params.key),
  );
  r.delete(
    "/api/v1/topics/:key",
    {
      schema: {
        ...common,
        summary: "Delete a topic; people's choices about it are kept (they hold again if it comes back)",
        params: topicParams,
      },
    },
    async (req, reply) => {
      await deleteTopic(deps.pool, req.workspace.id, req.params.key);
      return reply.code(204).send();
    },
  );

  r.get(
    "/api/v1/profiles/:id/subscriptions",
    {
      schema: {
        ...common,
        summary: "The person's explicit choices (topic * is the whole channel; channel * every channel)",
        params: profileParams,
        response: { 200: z.array(subscriptionView) },
      },
    },
    async (req) => getSubscriptions(deps.pool, req.workspace.id, req.params.id),
  );
  r.put(
    "/api/v1/profiles/:id/subscriptions",
    {
      schema: {
        ...common,
        summary: "Record choices of the person; choices not listed stay as they are",
        description:
          'Each item is { topic, channel, status }; { "topic": "*", "channel": "email", "status": "unsubscribed" } ' +
          "unsubscribes them from all non-transactional email. A topic must exist and offer the channel.",
        params: profileParams,
        body: z.array(subscriptionInputSchema).max(1000),
        response: { 200: z.array(subscriptionView) },
      },
    },
    async (req) => setSubscriptions(deps.pool, req.workspace.id, req.params.id, req.body, "api", now()),
  );

  const addressQuery = {
    channel: channelSchema.optional(),
    address: z.string().min(1).max(1000).optional().describe("an address to look up (needs channel)"),
  };
  r.get(
    "/api/v1/suppressions",
    {
      schema: {
        ...common,
        summary: "The suppression list, newest first: hashes, never addresses",
        querystring: z.strictObject({
          ...addressQuery,
          reason: z.enum(SUPPRESSION_REASONS).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().optional().describe("nextCursor of the previous page"),
        }),
        response: { 200: z.object({ items: z.array(suppressionView), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { limit, cursor, ...filter } = req.query;
      return listSuppressions(deps.pool, req.workspace.id, filter, { limit, cursor });
    },
  );
  r.post(
    "/api/v1/suppressions",
    {
      schema: {
        ...common,
        summary:
          "Suppress an address: nothing is sent to it on that channel, transactional messages included",
        body: z.strictObject({
          channel: channelSchema,
          address: z.string().trim().min(1).max(1000),
          reason: z.enum(["manual", "hard_bounce", "complaint"]).default("manual"),
          detail: z.string().max(1000).optional(),
        }),
        response: { 201: suppressionView, 200: suppressionView },
      },
    },
    async (req, reply) => {
      const { channel, address, reason, detail } = req.body;
      const at = now();
      const { created } = await suppress(
        deps.pool,
        req.workspace.id,
        channel,
        address,
        reason,
        detail ?? null,
        at,
      );
      const { items } = await listSuppressions(
        deps.pool,
        req.workspace.id,
        { channel, address },
        { limit: 1 },
      );
      return reply.code(created ? 201 : 200).send(items[0]!);
    },
  );
  r.delete(
    "/api/v1/suppressions",
    {
      schema: {
        ...common,
        summary: "Take an address (or a hash from the list) off the suppression list; erased people stay",
        querystring: z.strictObject({
          channel: channelSchema,
          address: z.string().min(1).max(1000).optional(),
          hash: z
            .string()
            .regex(/^[0-9a-f]{64}$/)
            .optional(),
        }),
      },
    },
    async (req, reply) => {
      const { channel, ...which } = req.query;
      await unsuppress(deps.pool, req.workspace.id, channel, which);
      return reply.code(204).send();
    },
  );

  r.get(
    "/api/v1/policies/delivery",
    {
      schema: {
        ...common,
        summary: "The delivery policy: frequency caps, quiet hours, journey priorities",
        response: { 200: deliveryPolicySchema },
      },
    },
    async (req) => getDeliveryPolicy(deps.pool, req.workspace.id),
  );
  r.put(
    "/api/v1/policies/delivery",
    {
      schema: {
        ...common,
        summary: "Replace the delivery policy",
        description:
          'Example: { "caps": [{ "channel": "email", "limit": 3, "per": "1d" }], ' +
          '"quietHours": { "start": "21:00", "end": "08:00", "mode": "delay" }, "priorities": { "cart": 10 } }. ' +
          "Caps in whole days count calendar days in the person's time zone (1d: since local midnight).",
        body: deliveryPolicySchema,
        response: { 200: deliveryPolicySchema },
      },
    },
    async (req) => putDeliveryPolicy(deps.pool, req.workspace.id, req.body, now()),
  );
}

// A wildcard, not `:token`: tokens run past the router's 100-character limit on path parameters.
const tokenParams = z.object({ "*": z.string().max(4096).describe("the token from the message's link") });
const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"];

/**
 * The pages behind the links in messages, without a token: the link's signature is the credential.
 * `GET /u/:token` only asks (mail scanners open links); `POST /u/:token` with
 * `List-Unsubscribe=One-Click` (RFC 8058) unsubscribes; `/p/:token` is the preference page.
 * Answers are HTML, errors included.
 */
export async function consentPageRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());
  const html = "text/html; charset=utf-8";
  // Forms arrive urlencoded (browsers, most mail providers) or as multipart (RFC 8058 allows both).
  app.addContentTypeParser(FORM_TYPES, { parseAs: "string", bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body } = toResponse(err);
    if (status >= 500) req.log.error({ err }, "request failed");
    void reply
      .code(status)
      .type(html)
      .send(status === 404 ? linkNotFoundPage() : errorPage(body.message));
  });
  const notFound = (reply: FastifyReply) => reply.code(404).type(html).send(linkNotFoundPage());
  const common = { tags: ["consent"], params: tokenParams };

  r.get(
    "/u/*",
    { schema: { ...common, summary: "Unsubscribe confirmation page (changes nothing)" } },
    async (req, reply) => {
      const link = await openLink(deps.pool, req.params["*"], now());
      if (!link) return notFound(reply);
      const page = confirmUnsubscribePage({
        channel: link.channel,
        topicName: await topicNameOf(deps.pool, link),
        token: link.token,
      });
      return reply.type(html).send(page);
    },
  );
  r.post(
    "/u/*",
    {
      schema: {
        ...common,
        summary: "One-click unsubscribe (RFC 8058): body List-Unsubscribe=One-Click",
        description:
          "Unsubscribes from the message's topic on its channel (a message without a topic: the whole " +
          "channel) and appends an Unsubscribed event for the person.",
      },
    },
    async (req, reply) => {
      const link = await openLink(deps.pool, req.params["*"], now());
      if (!link) return notFound(reply);
      if (!isOneClick(req.body)) {
        return reply
          .code(400)
          .type(html)
          .send(errorPage("To unsubscribe, send the form body List-Unsubscribe=One-Click."));
      }
      await unsubscribeByLink(deps.pool, link, now());
      const page = unsubscribedPage({
        channel: link.channel,
        topicName: await topicNameOf(deps.pool, link),
        token: link.token,
      });
      return reply.type(html).send(page);
    },
  );
  r.get("/p/*", { schema: { ...common, summary: "The hosted preference page" } }, async (req, reply) => {
    const link = await openLink(deps.pool, req.params["*"], now());
    if (!link) return notFound(reply);
    return reply.type(html).send(preferencePage(await preferencesOf(deps.pool, link), { saved: false }));
  });
  r.post(
    "/p/*",
    { schema: { ...common, summary: "Save the preference page (its form, urlencoded)" } },
    async (req, reply) => {
      const link = await openLink(deps.pool, req.params["*"], now());
      if (!link) return notFound(reply);
      const form = new URLSearchParams(typeof req.body === "string" ? req.body : "");
      const view = await savePreferences(
        deps.pool,
        link,
        { shown: form.getAll("shown"), on: form.getAll("on") },
        now(),
      );
      return reply.type(html).send(preferencePage(view, { saved: true }));
    },
  );
}

/** Whether a POST body says `List-Unsubscribe=One-Click`, urlencoded or as a multipart field. */
function isOneClick(body: unknown): boolean {
  if (typeof body !== "string") return false;
  if (new URLSearchParams(body).get("List-Unsubscribe") === "One-Click") return true;
  return /name="List-Unsubscribe"\r?\n(?:[^\r\n]+\r?\n)*\r?\nOne-Click\r?\n/i.test(body);
}
