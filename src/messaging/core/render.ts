import { compile } from "html-to-text";
import mjml2html from "mjml";
import { z } from "zod";
import {
  MAX_TEMPLATE_LENGTH,
  TemplateError,
  createTemplateEngine,
  type ValueTag,
} from "../../journeys/core/template.ts";

/**
 * Message templates: one content schema per channel, and renderMessage, which turns a template
 * version, a person's data and their links into exactly what a provider sends. Pure: the same
 * inputs give the same message (preview and send agree).
 *
 * Liquid runs with the journeys' limits and refusals (no files, no clock, bounded time, memory and
 * output). Values from profiles and events are data, never template code: Liquid does not parse what
 * it outputs. In the HTML parts (`html`, `mjml`) every `{{ output }}` is HTML-escaped (`| raw` opts
 * out); the subject, the text part, SMS, push and webhook bodies are not escaped.
 */

/** Size limits of a rendered message. */
export const MESSAGE_LIMITS = {
  /** An email's HTML (and the MJML after Liquid), in UTF-8 bytes; Gmail clips at ~100 KB anyway. */
  htmlBytes: 512 * 1024,
  /** An email's text part, in characters. */
  textChars: 512 * 1024,
  /** An email subject, in characters (one header line, RFC 5322). */
  subjectChars: 998,
  /** An SMS body, in characters: 10 segments of 160, what carriers concatenate. */
  smsChars: 1600,
  /** A push notification (title, body and data as JSON), in UTF-8 bytes: FCM's and APNs' payload limit. */
  pushBytes: 4096,
  /** A webhook's JSON body, in UTF-8 bytes. */
  webhookBytes: 512 * 1024,
} as const;

const template = (what: string) =>
  z
    .string()
    .max(MAX_TEMPLATE_LENGTH, `a template is at most ${MAX_TEMPLATE_LENGTH} characters`)
    .describe(what);

/** An email: a subject and exactly one of `mjml` or `html`; the text part is generated when left out. */
export const emailContentSchema = z
  .strictObject({
    channel: z.literal("email"),
    subject: template("Liquid; a single line (line breaks become spaces)"),
    mjml: template("MJML 5 with Liquid, rendered to HTML; outputs are HTML-escaped").optional(),
    html: template("HTML with Liquid; outputs are HTML-escaped").optional(),
    text: template(
      "the plain-text part (Liquid, not escaped); generated from the HTML when left out",
    ).optional(),
  })
  .superRefine((content, ctx) => {
    if ((content.mjml === undefined) === (content.html === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: content.mjml === undefined ? [] : ["html"],
        message: "an email template has exactly one of mjml or html",
      });
    }
  });

export const smsContentSchema = z.strictObject({
  channel: z.literal("sms"),
  body: template(`Liquid; at most ${MESSAGE_LIMITS.smsChars} characters once rendered`),
});

export const pushContentSchema = z.strictObject({
  channel: z.literal("push"),
  title: template("Liquid"),
  body: template("Liquid"),
  data: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("the data payload: JSON whose strings are templates ({{ x }} alone keeps x's type)"),
});

export const webhookContentSchema = z.strictObject({
  channel: z.literal("webhook"),
  url: z
    .url({ protocol: /^https?$/, error: "must be an http or https URL" })
    .max(2048)
    .optional()
    .describe("where the message is POSTed when the send gives no data.url"),
  body: z
    .record(z.string(), z.unknown())
    .describe("the JSON body: an object whose strings are templates ({{ x }} alone keeps x's type)"),
});

/** A template version's content: what a PUT stores and a send renders. */
export const templateContentSchema = z
  .discriminatedUnion("channel", [
    emailContentSchema,
    smsContentSchema,
    pushContentSchema,
    webhookContentSchema,
  ])
  .describe("a message template; `channel` decides the fields");

export type TemplateContent = z.infer<typeof templateContentSchema>;
export type EmailContent = z.infer<typeof emailContentSchema>;

/** What templates see. Every part is optional; a missing one is an empty object. */
export interface RenderScope {
  /** `{ id, traits }` of the person. */
  profile?: unknown;
  /** The event that caused the message (a journey's trigger or current event). */
  event?: unknown;
  /** The journey instance's context (collections, lookups). */
  context?: unknown;
  /** `{ key, step, instanceId }` when a journey sent it. */
  journey?: unknown;
  /** The send API's `data`. */
  data?: unknown;
}

/** The person's links, output by `{% unsubscribe_url %}` and `{% preferences_url %}`. */
export interface MessageLinks {
  unsubscribeUrl: string;
  preferencesUrl: string;
}

/** Exactly what a provider is given, by channel. */
export type RenderedMessage =
  | { channel: "email"; subject: string; html: string; text: string }
  | { channel: "sms"; body: string }
  | { channel: "push"; title: string; body: string; data?: Record<string, unknown> }
  | { channel: "webhook"; data: Record<string, unknown> };

/** The links ride in the scope under a symbol: no template expression can name it. */
const LINKS = Symbol("links");
const linkTag =
  (name: keyof MessageLinks): ValueTag =>
  (scope) =>
    (scope[LINKS] as MessageLinks)[name];
const tags = { unsubscribe_url: linkTag("unsubscribeUrl"), preferences_url: linkTag("preferencesUrl") };

/** Subjects, text parts, SMS, push and webhook bodies: outputs as they are. */
const plain = createTemplateEngine({ tags });
/** HTML and MJML: outputs HTML-escaped. Fewer cached templates: these are the large ones. */
const html = createTemplateEngine({ tags, outputEscape: "escape", cacheSize: 200 });

/**
 * Renders a template version for one person: Liquid first, then (email) MJML to HTML and the text
 * part from the HTML when the template has none. Async because MJML 5's renderer is. Throws a
 * TemplateError naming the field and line (`subject: line 1, column 4: ...`, `mjml: line 12: ...`).
 */
export async function renderMessage(
  content: TemplateContent,
  scope: RenderScope,
  links: MessageLinks,
): Promise<RenderedMessage> {
  const s: Record<string | symbol, unknown> = {
    profile: scope.profile ?? {},
    event: scope.event ?? {},
    context: scope.context ?? {},
    journey: scope.journey ?? {},
    data: scope.data ?? {},
    [LINKS]: links,
  };
  switch (content.channel) {
    case "email":
      return renderEmail(content, s);
    case "sms": {
      const body = inField("body", () => plain.renderText(content.body, s));
      if (body.length > MESSAGE_LIMITS.smsChars) {
        throw new TemplateError(
          `is longer than ${MESSAGE_LIMITS.smsChars} characters (${body.length})`,
          undefined,
          undefined,
          {
            field: "body",
          },
        );
      }
      return { channel: "sms", body };
    }
    case "push": {
      const title = inField("title", () => plain.renderText(content.title, s));
      const body = inField("body", () => plain.renderText(content.body, s));
      const data = content.data === undefined ? undefined : renderJson(content.data, s, "data");
      const bytes = utf8Bytes(JSON.stringify({ title, body, data }));
      if (bytes > MESSAGE_LIMITS.pushBytes) {
        throw new TemplateError(
          `title, body and data are ${bytes} bytes, over the push limit of ${MESSAGE_LIMITS.pushBytes}`,
        );
      }
      return { channel: "push", title, body, ...(data === undefined ? {} : { data }) };
    }
    case "webhook": {
      const data = renderJson(content.body, s, "body");
      const bytes = utf8Bytes(JSON.stringify(data));
      if (bytes > MESSAGE_LIMITS.webhookBytes) {
        throw new TemplateError(
          `is ${bytes} bytes, over the limit of ${MESSAGE_LIMITS.webhookBytes}`,
          undefined,
          undefined,
          {
            field: "body",
          },
        );
      }
      return { channel: "webhook", data };
    }
    default:
      return unreachable(content);
  }
}

/**
 * Every field of a template that does not parse, with its path (`subject`, `mjml`, `body.items.0`)
 * and why (`line 2, column 1: tag {% if %} not closed`). Parsing only: renderMessage finds the rest.
 */
export function checkMessage(content: TemplateContent): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const check = (path: string, source: string | undefined, engine = plain) => {
    const message = source === undefined ? undefined : engine.checkTemplate(source);
    if (message !== undefined) problems.push({ path, message });
  };
  const checkJson = (root: string, value: Record<string, unknown> | undefined) => {
    for (const p of value === undefined ? [] : plain.checkValue(value)) {
      problems.push({ path: `${root}.${p.path}`, message: p.message });
    }
  };
  switch (content.channel) {
    case "email":
      check("subject", content.subject);
      check("mjml", content.mjml, html);
      check("html", content.html, html);
      check("text", content.text);
      break;
    case "sms":
      check("body", content.body);
      break;
    case "push":
      check("title", content.title);
      check("body", content.body);
      checkJson("data", content.data);
      break;
    case "webhook":
      checkJson("body", content.body);
      break;
    default:
      unreachable(content);
  }
  return problems;
}

async function renderEmail(
  content: EmailContent,
  s: Record<string | symbol, unknown>,
): Promise<RenderedMessage> {
  // One header line: a line break in a trait must not start a new header or fold the subject.
  const subject = inField("subject", () => plain.renderText(content.subject, s))
    .replace(/[\r\n]+/g, " ")
    .trim();
  if (subject.length > MESSAGE_LIMITS.subjectChars) {
    throw new TemplateError(
      `is longer than ${MESSAGE_LIMITS.subjectChars} characters (${subject.length})`,
      undefined,
      undefined,
      { field: "subject" },
    );
  }
  let body: string;
  if (content.mjml !== undefined) {
    const source = content.mjml;
    const mjml = limitHtml(
      "mjml",
      inField("mjml", () => html.renderText(source, s)),
    );
    body = limitHtml("mjml", await mjmlToHtml(source, mjml));
  } else {
    const source = content.html!;
    body = limitHtml(
      "html",
      inField("html", () => html.renderText(source, s)),
    );
  }
  let text: string;
  if (content.text !== undefined) {
    const source = content.text;
    text = inField("text", () => plain.renderText(source, s));
  } else {
    text = htmlToText(body);
  }
  if (text.length > MESSAGE_LIMITS.textChars) {
    throw new TemplateError(
      `is longer than ${MESSAGE_LIMITS.textChars} characters (${text.length})`,
      undefined,
      undefined,
      {
        field: "text",
      },
    );
  }
  return { channel: "email", subject, html: body, text };
}

/**
 * MJML (after Liquid) to HTML. Validation errors are errors, here as at save time: the message shows
 * what MJML's own validator says. Its line is of the MJML after Liquid; it is mapped back to the
 * template's line when that is unambiguous.
 */
async function mjmlToHtml(source: string, rendered: string): Promise<string> {
  let result: Awaited<ReturnType<typeof mjml2html>>;
  try {
    // No includes (they would read files) and no .mjmlconfig: nothing outside the template is read.
    result = await mjml2html(rendered, { validationLevel: "soft", ignoreIncludes: true, minify: false });
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    throw new TemplateError(problem, undefined, undefined, { field: "mjml", cause: error });
  }
  const [first, ...more] = result.errors;
  if (first) {
    const problem = `${first.message.trim()}${more.length > 0 ? ` (and ${more.length} more)` : ""}`;
    const line = templateLine(source, rendered, first.line);
    if (line !== undefined) throw new TemplateError(problem, line, undefined, { field: "mjml" });
    throw new TemplateError(`line ${first.line} of the MJML after Liquid: ${problem}`, undefined, undefined, {
      field: "mjml",
    });
  }
  return result.html;
}

/**
 * The template line of a line of Liquid's output: the only template line with the same text, else the
 * same number when Liquid kept the line count (no block added or removed lines), else unknown.
 */
function templateLine(source: string, rendered: string, line: number): number | undefined {
  const sourceLines = source.split("\n");
  const renderedLines = rendered.split("\n");
  const text = renderedLines[line - 1]?.trim();
  if (text) {
    const same = sourceLines.flatMap((l, i) => (l.trim() === text ? [i + 1] : []));
    if (same.length === 1) return same[0];
  }
  return sourceLines.length === renderedLines.length ? line : undefined;
}

/** Built once: `convert` set the converter up again on every call (15% of an email's send time). */
const toText = compile({
  wordwrap: 78,
  selectors: [
    { selector: "img", format: "skip" },
    { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'div[style*="display:none"]', format: "skip" },
  ],
});

/** The text part of an email: links as `text [url]`, images and the hidden preview line left out. */
function htmlToText(body: string): string {
  return toText(body)
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function limitHtml(field: string, output: string): string {
  const bytes = utf8Bytes(output);
  if (bytes > MESSAGE_LIMITS.htmlBytes) {
    throw new TemplateError(
      `renders to ${bytes} bytes of HTML, over the limit of ${MESSAGE_LIMITS.htmlBytes}`,
      undefined,
      undefined,
      { field },
    );
  }
  return output;
}

/** JSON whose strings are templates (a lone `{{ x }}` keeps x's type); errors name the path. */
function renderJson(
  value: Record<string, unknown>,
  s: Record<string | symbol, unknown>,
  root: string,
): Record<string, unknown> {
  const visit = (v: unknown, path: string): unknown => {
    if (typeof v === "string") return inField(path, () => plain.renderTemplate(v, s));
    if (Array.isArray(v)) return v.map((item, i) => visit(item, `${path}.${i}`));
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([key, item]) => [key, visit(item, `${path}.${key}`)]));
    }
    return v;
  };
  return visit(value, root) as Record<string, unknown>;
}

/** Runs a render and names the field in the TemplateError it throws. */
function inField<T>(field: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof TemplateError && error.field === undefined) {
      throw new TemplateError(error.problem, error.line, error.column, { field, cause: error });
    }
    throw error;
  }
}

const encoder = new TextEncoder();
function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

function unreachable(value: never): never {
  throw new Error(`unknown template channel ${JSON.stringify((value as { channel?: unknown }).channel)}`);
}
