import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors/index.ts";
import { TemplateError } from "../journeys/core/template.ts";
import { getProfile } from "../profiles/index.ts";
import type { ChannelKind } from "./core/channel.ts";
import { linkUrls } from "./links.ts";
import { lookupRecipient } from "./recipient.ts";
import {
  checkMessage,
  renderMessage,
  templateContentSchema,
  type MessageLinks,
  type RenderedMessage,
  type TemplateContent,
} from "./core/render.ts";

/**
 * Message templates: each PUT of a key stores a new immutable version (a message records the version
 * it used); a key keeps the channel of its first version.
 */

type Queryable = Pick<PoolClient, "query">;

/** A template key: lower case letters, digits, `_` and `-`, starting with a letter or digit, at most 100. */
export const TEMPLATE_KEY = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const KEY_RULE =
  "a template key is lower case letters, digits, _ and -, starts with a letter or digit, at most 100 characters";

/** One stored version. */
export interface TemplateVersion {
  key: string;
  channel: ChannelKind;
  version: number;
  content: TemplateContent;
  /** When this version was stored (ISO 8601). */
  createdAt: string;
}

/** A template as listed. */
export interface TemplateSummary {
  key: string;
  channel: ChannelKind;
  latestVersion: number;
  /** When the first version was stored. */
  createdAt: string;
  /** When the latest version was stored. */
  updatedAt: string;
}

/** The links a template is checked and previewed with: they carry no token. */
const PLACEHOLDER_LINKS: MessageLinks = {
  unsubscribeUrl: "https://waymark.invalid/u/preview",
  preferencesUrl: "https://waymark.invalid/p/preview",
};

/**
 * Why `content` cannot be stored: the schema, every field that does not parse, then a render with
 * an empty scope (MJML's validation, limits). Throws ValidationError naming the field and line.
 */
export async function validateTemplate(key: string, content: unknown): Promise<TemplateContent> {
  if (!TEMPLATE_KEY.test(key)) throw new ValidationError(`key: ${KEY_RULE} (got ${JSON.stringify(key)})`);
  const parsed = parseTemplate(content);
  try {
    await renderMessage(parsed, {}, PLACEHOLDER_LINKS);
  } catch (error) {
    throw toValidationError(error);
  }
  return parsed;
}

/**
 * `content` as a template: the schema, then every field that does not parse. Throws
 * ValidationError naming the field and line; rendering finds the rest.
 */
function parseTemplate(content: unknown): TemplateContent {
  const parsed = templateContentSchema.safeParse(content);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    const first = details[0]!;
    throw new ValidationError(first.path ? `${first.path}: ${first.message}` : first.message, details);
  }
  const problems = checkMessage(parsed.data);
  if (problems.length > 0) {
    throw new ValidationError(`${problems[0]!.path}: ${problems[0]!.message}`, problems);
  }
  return parsed.data;
}

/** Stores `content` as the key's next version (the first creates the template). */
export async function putTemplate(
  pool: Pool,
  workspaceId: string,
  key: string,
  content: unknown,
  now: Date = new Date(),
): Promise<{ key: string; channel: ChannelKind; version: number; createdAt: string }> {
  const checked = await validateTemplate(key, content);
  return withTx(pool, async (client) => {
    // The upsert's row lock makes concurrent PUTs of a key take turns: versions are 1, 2, 3, ...
    const { rows } = await client.query<{ latest_version: number }>(
      `INSERT INTO templates (workspace_id, key, channel, latest_version, created_at, updated_at)
       VALUES ($1, $2, $3, 1, $4, $4)
       ON CONFLICT (workspace_id, key) DO UPDATE
         SET latest_version = templates.latest_version + 1, updated_at = excluded.updated_at
         WHERE templates.channel = excluded.channel
       RETURNING latest_version`,
      [workspaceId, key, checked.channel, now],
    );
    if (!rows[0]) {
      const { rows: existing } = await client.query<{ channel: string }>(
        "SELECT channel FROM templates WHERE workspace_id = $1 AND key = $2",
        [workspaceId, key],
      );
      throw new ConflictError(
        `template ${key} is on the ${existing[0]?.channel} channel, which cannot change; ` +
          `store the ${checked.channel} template under another key`,
      );
    }
    const version = rows[0].latest_version;
    await client.query(
      `INSERT INTO template_versions (workspace_id, template_key, version, content, created_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [workspaceId, key, version, JSON.stringify(checked), now],
    );
    return { key, channel: checked.channel, version, createdAt: now.toISOString() };
  });
}

interface VersionRecord {
  key: string;
  channel: ChannelKind;
  version: number;
  content: TemplateContent;
  created_at: Date;
}

/** A version of a template, the latest by default. NotFoundError names what is missing. */
export async function getTemplate(
  db: Queryable,
  workspaceId: string,
  key: string,
  version?: number,
): Promise<TemplateVersion> {
  const { rows } = await db.query<VersionRecord & { latest_version: number }>(
    `SELECT t.key, t.channel, t.latest_version, v.version, v.content, v.created_at
     FROM templates t
     LEFT JOIN template_versions v
       ON v.workspace_id = t.workspace_id AND v.template_key = t.key AND v.version = coalesce($3, t.latest_version)
     WHERE t.workspace_id = $1 AND t.key = $2`,
    [workspaceId, key, version ?? null],
  );
  const r = rows[0];
  if (!r) throw new NotFoundError(`no template ${key}: create it with PUT /api/v1/templates/${key}`);
  if (r.version === null) {
    throw new NotFoundError(`template ${key} has no version ${version} (its latest is ${r.latest_version})`);
  }
  return {
    key: r.key,
    channel: r.channel,
    version: r.version,
    content: r.content,
    createdAt: r.created_at.toISOString(),
  };
}

/** A version of a template (the latest by default) and the list of its versions, newest first. */
export async function describeTemplate(
  db: Queryable,
  workspaceId: string,
  key: string,
  version?: number,
): Promise<TemplateVersion & { versions: Array<{ version: number; createdAt: string }> }> {
  const current = await getTemplate(db, workspaceId, key, version);
  const { rows } = await db.query<{ version: number; created_at: Date }>(
    `SELECT version, created_at FROM template_versions
     WHERE workspace_id = $1 AND template_key = $2 ORDER BY version DESC`,
    [workspaceId, key],
  );
  return {
    ...current,
    versions: rows.map((r) => ({ version: r.version, createdAt: r.created_at.toISOString() })),
  };
}

/** The workspace's templates by key. */
export async function listTemplates(db: Queryable, workspaceId: string): Promise<TemplateSummary[]> {
  const { rows } = await db.query<{
    key: string;
    channel: ChannelKind;
    latest_version: number;
    created_at: Date;
    updated_at: Date;
  }>(
    `SELECT key, channel, latest_version, created_at, updated_at FROM templates
     WHERE workspace_id = $1 ORDER BY key`,
    [workspaceId],
  );
  return rows.map((r) => ({
    key: r.key,
    channel: r.channel,
    latestVersion: r.latest_version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  }));
}

/** Who a preview is for, and what it renders with. */
export interface PreviewRequest {
  /** A profile id, user id or email; see lookupRecipient (a person identified a moment ago is waited for). */
  person: string;
  event?: Record<string, unknown> | undefined;
  context?: Record<string, unknown> | undefined;
  data?: Record<string, unknown> | undefined;
}

/**
 * Exactly what a stored template (the latest version, or `version`) would send to a person now; see
 * renderForPerson. NotFoundError for an unknown template too.
 */
export async function previewTemplate(
  pool: Pool,
  workspaceId: string,
  key: string,
  request: PreviewRequest & { version?: number | undefined },
  publicUrl: string,
): Promise<RenderedMessage & { version: number }> {
  const template = await getTemplate(pool, workspaceId, key, request.version);
  const rendered = await renderForPerson(pool, workspaceId, template.content, request, publicUrl);
  return { ...rendered, version: template.version };
}

/**
 * Exactly what `content`, a template not stored (an editor's draft), would send to a person now;
 * see renderForPerson. A template that does not parse is refused first, like a PUT refuses it.
 */
export async function previewContent(
  pool: Pool,
  workspaceId: string,
  content: unknown,
  request: PreviewRequest,
  publicUrl: string,
): Promise<RenderedMessage> {
  return renderForPerson(pool, workspaceId, parseTemplate(content), request, publicUrl);
}

/**
 * Renders `content` for a person with their profile and the event, context and data given, with the
 * links of the message built on `publicUrl` around the placeholder token `preview`. NotFoundError for
 * an unknown person (UnavailableError when the pipeline is too far behind to tell); ValidationError naming the field and line when it does not render.
 */
async function renderForPerson(
  pool: Pool,
  workspaceId: string,
  content: TemplateContent,
  request: PreviewRequest,
  publicUrl: string,
): Promise<RenderedMessage> {
  const profileId = await lookupRecipient(pool, workspaceId, request.person);
  const profile = await getProfile(pool, workspaceId, profileId);
  try {
    return await renderMessage(
      content,
      {
        profile: { id: profile.id, traits: profile.traits },
        event: request.event ?? {},
        context: request.context ?? {},
        data: request.data ?? {},
      },
      linkUrls(publicUrl, "preview"),
    );
  } catch (error) {
    throw toValidationError(error);
  }
}

/** A TemplateError as a 400 whose detail names the field; anything else as it is. */
function toValidationError(error: unknown): unknown {
  if (!(error instanceof TemplateError)) return error;
  const field = error.field ?? "";
  const message = field === "" ? error.message : error.message.slice(field.length + 2);
  return new ValidationError(error.message, [{ path: field, message }]);
}
