import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  CHANNELS,
  MESSAGE_LIMITS,
  TEMPLATE_KEY,
  describeTemplate,
  listTemplates,
  previewContent,
  previewTemplate,
  putTemplate,
  templateContentSchema,
  type PreviewRequest,
} from "../../messaging/index.ts";
import type { ServerDeps } from "../context.ts";

const keyParams = z.object({
  key: z
    .string()
    .regex(
      TEMPLATE_KEY,
      "a template key is lower case letters, digits, _ and -, starts with a letter or digit, at most 100 characters",
    )
    .describe("the template's key, e.g. welcome-email"),
});

const version = z.coerce
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1)
  .describe("a version number (default: the latest)");

const channel = z.enum(CHANNELS);

const storedSchema = z.object({
  key: z.string(),
  channel,
  version: z.number().int().describe("the version this PUT stored: 1, 2, 3, ..."),
  createdAt: z.string(),
});

const summarySchema = z.object({
  key: z.string(),
  channel,
  latestVersion: z.number().int(),
  createdAt: z.string().describe("when the first version was stored"),
  updatedAt: z.string().describe("when the latest version was stored"),
});

const detailSchema = z.object({
  key: z.string(),
  channel,
  version: z.number().int(),
  content: templateContentSchema,
  createdAt: z.string().describe("when this version was stored"),
  versions: z
    .array(z.object({ version: z.number().int(), createdAt: z.string() }))
    .describe("every version, newest first"),
});

/** Who a preview is for and what it renders with: the fields both previews take. */
const previewFields = {
  profileId: z.string().optional().describe("the person's profile id"),
  userId: z.string().optional().describe("or their userId"),
  email: z.string().optional().describe("or their email"),
  event: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("the event the message is about (`event` in templates), e.g. a track call"),
  context: z.record(z.string(), z.unknown()).optional().describe("a journey's context (`context`)"),
  data: z.record(z.string(), z.unknown()).optional().describe("the send API's data (`data`)"),
};

/** Exactly one of profileId, userId or email. */
const onePerson = (b: { profileId?: string; userId?: string; email?: string }) =>
  [b.profileId, b.userId, b.email].filter((x) => x !== undefined).length === 1;
const ONE_PERSON = { message: "give exactly one of profileId, userId or email" };

const previewBody = z
  .strictObject({ ...previewFields, version: version.optional() })
  .refine(onePerson, ONE_PERSON);

const contentPreviewBody = z
  .strictObject({
    ...previewFields,
    content: templateContentSchema.describe(
      "the template, as PUT /api/v1/templates/:key takes it (and GET answers it as `content`)",
    ),
  })
  .refine(onePerson, ONE_PERSON);

const renderedFields = {
  channel,
  subject: z.string().optional().describe("email"),
  html: z.string().optional().describe("email"),
  text: z.string().optional().describe("email: the template's text part, or one generated from the HTML"),
  title: z.string().optional().describe("push"),
  body: z.string().optional().describe("SMS, push"),
  data: z.record(z.string(), z.unknown()).optional().describe("push data; a webhook's JSON body"),
};

const previewSchema = z
  .object({ ...renderedFields, version: z.number().int().describe("the version rendered") })
  .describe("exactly what would be sent, by channel");

const contentPreviewSchema = z.object(renderedFields).describe("exactly what would be sent, by channel");

/** What a preview body asks for: the person it names (the schema checked there is one) and the scope. */
function previewRequestOf(
  body: z.infer<typeof contentPreviewBody> | z.infer<typeof previewBody>,
): PreviewRequest {
  return {
    person: (body.profileId ?? body.userId ?? body.email)!,
    event: body.event,
    context: body.context,
    data: body.data,
  };
}

/**
 * Where the links of a preview point: WAYMARK_PUBLIC_URL, else the address this request came to
 * (the same base `waymark start` prints).
 */
function publicUrlOf(req: FastifyRequest, deps: ServerDeps): string {
  return deps.publicUrl ?? `${req.protocol}://${req.host}`;
}

/** Message templates: versions and previews (admin token). */
export async function templateRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());
  const common = { tags: ["templates"], security: [{ adminToken: [] }] };

  r.put(
    "/api/v1/templates/:key",
    {
      schema: {
        ...common,
        summary: "Store a new version of a message template",
        description:
          "Each PUT stores the next immutable version (1, 2, 3, ...); messages record the version they " +
          "used. The content is parsed and rendered once with an empty scope first: a template that does " +
          "not parse or render is refused with 400 naming the field and line (`mjml: line 12: ...`). A " +
          "key keeps its channel (409). Liquid outputs are HTML-escaped in `html` and `mjml` (`| raw` opts " +
          "out), not elsewhere; `{% unsubscribe_url %}` and `{% preferences_url %}` output the person's " +
          `links. Limits: HTML ${MESSAGE_LIMITS.htmlBytes / 1024} KB, SMS ${MESSAGE_LIMITS.smsChars} ` +
          `characters, push ${MESSAGE_LIMITS.pushBytes} bytes.`,
        params: keyParams,
        body: templateContentSchema,
        response: { 200: storedSchema },
      },
    },
    async (req) => putTemplate(deps.pool, req.workspace.id, req.params.key, req.body, now()),
  );

  r.get(
    "/api/v1/templates",
    {
      schema: {
        ...common,
        summary: "The workspace's message templates, by key",
        response: { 200: z.object({ items: z.array(summarySchema) }) },
      },
    },
    async (req) => ({ items: await listTemplates(deps.pool, req.workspace.id) }),
  );

  r.get(
    "/api/v1/templates/:key",
    {
      schema: {
        ...common,
        summary: "A template's latest version (or ?version=) and the list of its versions",
        params: keyParams,
        querystring: z.strictObject({ version: version.optional() }),
        response: { 200: detailSchema },
      },
    },
    async (req) => describeTemplate(deps.pool, req.workspace.id, req.params.key, req.query.version),
  );

  r.post(
    "/api/v1/templates/:key/preview",
    {
      schema: {
        ...common,
        summary: "Render a template for a person: exactly what would be sent",
        description:
          "Renders with the person's profile (`profile.id`, `profile.traits`) and the event, context and " +
          "data given; links use the placeholder token `preview`. 404 for an unknown person or template " +
          "(a person identified a moment ago is waited for, as a send waits), " +
          "400 naming the field and line when the template does not render for this person.",
        params: keyParams,
        body: previewBody,
        response: { 200: previewSchema },
      },
    },
    async (req) => {
      return previewTemplate(
        deps.pool,
        req.workspace.id,
        req.params.key,
        { ...previewRequestOf(req.body), version: req.body.version },
        publicUrlOf(req, deps),
      );
    },
  );

  r.post(
    "/api/v1/templates/preview",
    {
      schema: {
        ...common,
        summary: "Render a template that is not stored (an editor's draft) for a person",
        description:
          "The same as POST /api/v1/templates/:key/preview, with the template given as `content` instead " +
          "of stored: nothing is saved. 400 naming the field and line when the content does not parse or " +
          "does not render for this person (as PUT refuses it), 404 for an unknown person.",
        body: contentPreviewBody,
        response: { 200: contentPreviewSchema },
      },
    },
    async (req) => {
      return previewContent(
        deps.pool,
        req.workspace.id,
        req.body.content,
        previewRequestOf(req.body),
        publicUrlOf(req, deps),
      );
    },
  );
}
