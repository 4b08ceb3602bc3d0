// A template as the editor holds it, and the conversions to and from what the API takes
// (PUT /api/v1/templates/:key and POST /api/v1/templates/preview, schema in src/messaging/core/render.ts).

import type { TemplateContent } from "../../../../src/messaging/index.ts";

export const TEMPLATE_CHANNELS = ["email", "sms", "push", "webhook"] as const;
export type TemplateChannel = (typeof TEMPLATE_CHANNELS)[number];

/** The same rule as the server's TEMPLATE_KEY. */
export const TEMPLATE_KEY_PATTERN = "[a-z0-9][a-z0-9_\\-]{0,99}";
export const TEMPLATE_KEY_HINT =
  "lower-case letters, digits, _ and -, starting with a letter or digit (welcome-email)";

/** A template's content as the API takes and answers it: the server's own type. */
export type { TemplateContent };

/** The editor's fields: JSON parts as the text being typed, an email's markup in one of two formats. */
export type Draft =
  | { channel: "email"; subject: string; format: "html" | "mjml"; markup: string; text: string }
  | { channel: "sms"; body: string }
  | { channel: "push"; title: string; body: string; data: string }
  | { channel: "webhook"; body: string };

/** The editor's field names; errors are shown under the field they name. */
export type FieldName = "subject" | "markup" | "text" | "body" | "title" | "data";

/** What the server says went wrong, placed on a field and a line when it names them. */
export interface FieldProblem {
  field: FieldName | undefined;
  /** The server's name for the part (`mjml`, `body.items.0`), shown to the user. */
  path: string | undefined;
  line: number | undefined;
  column: number | undefined;
  message: string;
}

export const CHANNEL_LABELS: Record<TemplateChannel, string> = {
  email: "Email",
  sms: "SMS",
  push: "Push",
  webhook: "Webhook",
};

/** What a new template starts with: a working example that uses the person's traits. */
export function starterDraft(channel: TemplateChannel): Draft {
  switch (channel) {
    case "email":
      return {
        channel,
        subject: "Hello {{ profile.traits.firstName | default: 'there' }}",
        format: "mjml",
        markup: `<mjml>
  <mj-head>
    <mj-attributes>
      <mj-all font-family="Helvetica, Arial, sans-serif" />
    </mj-attributes>
  </mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="18px">Hello {{ profile.traits.firstName | default: "there" }},</mj-text>
        <mj-text>Thanks for being with us.</mj-text>
        <mj-text font-size="12px" color="#6b7280">
          <a href="{% unsubscribe_url %}">Unsubscribe</a> · <a href="{% preferences_url %}">Preferences</a>
        </mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`,
        text: "",
      };
    case "sms":
      return {
        channel,
        body: "Hi {{ profile.traits.firstName | default: 'there' }}, thanks for being with us.",
      };
    case "push":
      return {
        channel,
        title: "Hello {{ profile.traits.firstName | default: 'there' }}",
        body: "Thanks for being with us.",
        data: "",
      };
    case "webhook":
      return {
        channel,
        body: JSON.stringify(
          { profileId: "{{ profile.id }}", email: "{{ profile.traits.email }}", event: "{{ event.event }}" },
          null,
          2,
        ),
      };
  }
}

export function draftOf(content: TemplateContent): Draft {
  switch (content.channel) {
    case "email":
      return {
        channel: "email",
        subject: content.subject,
        format: content.mjml !== undefined ? "mjml" : "html",
        markup: content.mjml ?? content.html ?? "",
        text: content.text ?? "",
      };
    case "sms":
      return { channel: "sms", body: content.body };
    case "push":
      return {
        channel: "push",
        title: content.title,
        body: content.body,
        data: content.data === undefined ? "" : JSON.stringify(content.data, null, 2),
      };
    case "webhook":
      return { channel: "webhook", body: JSON.stringify(content.body, null, 2) };
  }
}

/** Parses a JSON object typed in a field; a problem on that field when it is not one. */
function parseObject(
  field: FieldName,
  text: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; problem: FieldProblem } {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return { ok: true, value: value as Record<string, unknown> };
    }
    return {
      ok: false,
      problem: { field, path: field, line: undefined, column: undefined, message: "must be a JSON object" },
    };
  } catch (e) {
    return {
      ok: false,
      problem: {
        field,
        path: field,
        line: undefined,
        column: undefined,
        message: `is not valid JSON (${e instanceof Error ? e.message : String(e)})`,
      },
    };
  }
}

/** The API's content for a draft, or the problem with a JSON field that stops it. */
export function contentOf(
  draft: Draft,
): { ok: true; content: TemplateContent } | { ok: false; problem: FieldProblem } {
  switch (draft.channel) {
    case "email":
      return {
        ok: true,
        content: {
          channel: "email",
          subject: draft.subject,
          [draft.format]: draft.markup,
          ...(draft.text.trim() === "" ? {} : { text: draft.text }),
        },
      };
    case "sms":
      return { ok: true, content: { channel: "sms", body: draft.body } };
    case "push": {
      if (draft.data.trim() === "") {
        return { ok: true, content: { channel: "push", title: draft.title, body: draft.body } };
      }
      const data = parseObject("data", draft.data);
      if (!data.ok) return data;
      return {
        ok: true,
        content: { channel: "push", title: draft.title, body: draft.body, data: data.value },
      };
    }
    case "webhook": {
      const body = parseObject("body", draft.body);
      if (!body.ok) return body;
      return { ok: true, content: { channel: "webhook", body: body.value } };
    }
  }
}

/**
 * Places a server message on the field it names: `mjml: line 12: ...`, `subject: line 1, column 4:
 * ...`, `body.items.0: ...`, or the request validation's `body.content.subject: ...`.
 */
export function problemOf(channel: TemplateChannel, message: string): FieldProblem {
  const m = /^(?:body\.content\.)?([A-Za-z][\w.-]*): (?:line (\d+)(?:, column (\d+))?: )?([\s\S]*)$/.exec(
    message,
  );
  if (!m) return { field: undefined, path: undefined, line: undefined, column: undefined, message };
  const path = m[1]!;
  const top = path.split(".")[0]!;
  const field = fieldOf(channel, top);
  return {
    field,
    path: field ? path : undefined,
    line: m[2] ? Number(m[2]) : undefined,
    column: m[3] ? Number(m[3]) : undefined,
    message: field ? m[4]! : message,
  };
}

function fieldOf(channel: TemplateChannel, name: string): FieldName | undefined {
  const fields: Record<TemplateChannel, Partial<Record<string, FieldName>>> = {
    email: { subject: "subject", html: "markup", mjml: "markup", text: "text" },
    sms: { body: "body" },
    push: { title: "title", body: "body", data: "data" },
    webhook: { body: "body" },
  };
  return fields[channel][name];
}

/** "line 3, column 5" / "line 3" / "" */
export function whereOf(p: FieldProblem): string {
  if (p.line === undefined) return "";
  return p.column === undefined ? `line ${p.line}` : `line ${p.line}, column ${p.column}`;
}
