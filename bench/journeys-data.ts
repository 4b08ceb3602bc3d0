import type pg from "pg";
import { request } from "undici";
import type { JourneyInput } from "../src/journeys/index.ts";
import type { WaymarkServer } from "./processes.ts";

/**
 * The journeys the server benchmarks run, and how their instances are made: each journey is saved
 * and published through the API, one instance of each is created by the real runtime (a trigger
 * event through /v1/track and the pipeline), and that row is then cloned with SQL, so the millions of
 * rows have exactly the shape (columns and `state` jsonb) the runtime writes, without waiting for the
 * pipeline to enter each one.
 */

/** 1,000,000 waiting instances: a 30-day wait, then a webhook, then the end (benchmark 2). */
export const WAIT_JOURNEY = "bench-wait";
/** Timers due in the same second: a one-hour wait, then an exit step (benchmark 3). */
export const TIMER_JOURNEY = "bench-timer";
/** The same journey, paused so the timer loop leaves its rows alone: the database-only baseline. */
export const TIMER_BASELINE_JOURNEY = "bench-timer-base";
/** Live instances in a hold: `Checkout Started` leads to a webhook (benchmark 4). */
export const HOLD_JOURNEY = "bench-hold";

/** Segment context of every event the benchmarks send (as an SDK sends it; about 800 bytes with the rest). */
const CONTEXT = {
  library: { name: "analytics.js", version: "npm:next-1.84.3" },
  page: {
    path: "/checkout",
    referrer: "https://shop.example.com/cart",
    search: "",
    title: "Checkout | Acme Store",
    url: "https://shop.example.com/checkout",
  },
  userAgent:
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  locale: "en-US",
};

/** A `/v1/track` body. */
export function trackBody(
  userId: string,
  event: string,
  messageId: string,
  properties: Record<string, unknown>,
  at = new Date().toISOString(),
): string {
  return JSON.stringify({
    type: "track",
    event,
    userId,
    anonymousId: `anon-${messageId}`,
    messageId,
    timestamp: at,
    properties: { currency: "USD", ...properties },
    context: CONTEXT,
  });
}

export function journeyDefinitions(receiverUrl: string): JourneyInput[] {
  const timer = (key: string, event: string): JourneyInput => ({
    key,
    name: "Bench: one-hour wait, then exit",
    trigger: { event },
    steps: [
      { id: "pause", wait: { duration: "1h" } },
      { id: "done", exit: { reason: "waited an hour" } },
    ],
  });
  return [
    {
      key: WAIT_JOURNEY,
      name: "Bench: trial reminder after 30 days",
      trigger: { event: "Trial Started" },
      exits: [{ event: "Subscription Started" }],
      steps: [
        { id: "wait_30d", wait: { duration: "30d" } },
        {
          id: "remind",
          webhook: {
            url: `${receiverUrl}/hooks/trial`,
            body: { email: "{{ profile.traits.email }}", plan: "{{ context.trigger.properties.plan }}" },
          },
        },
        { id: "done", exit: {} },
      ],
    },
    timer(TIMER_JOURNEY, "Timer Armed"),
    timer(TIMER_BASELINE_JOURNEY, "Timer Baseline Armed"),
    {
      key: HOLD_JOURNEY,
      name: "Bench: checkout webhook",
      trigger: { event: "Cart Viewed" },
      exits: [{ event: "Order Completed" }],
      steps: [
        {
          id: "wait_checkout",
          hold_until: {
            events: [{ id: "checkout", event: "Checkout Started", next: "notify" }],
            timeout: "7d",
            resetOn: ["Product Added"],
            onTimeout: "done",
          },
        },
        {
          id: "notify",
          webhook: {
            url: `${receiverUrl}/hooks/checkout`,
            body: {
              seq: "{{ event.properties.benchSeq }}",
              email: "{{ profile.traits.email }}",
              cart: "{{ event.properties.cart_id }}",
              total: "{{ event.properties.total }}",
            },
          },
        },
        { id: "done", exit: {} },
      ],
    },
  ];
}

/** Admin API call; throws with the answer unless 2xx. */
export async function admin(
  server: WaymarkServer,
  method: "GET" | "PUT" | "POST",
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await request(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.adminToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export async function track(server: WaymarkServer, body: string): Promise<void> {
  const res = await request(`${server.url}/v1/track`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${server.writeKey}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`POST /v1/track: HTTP ${res.statusCode} ${text}`);
}

/** The runtime's own instance of each journey, cloned by SQL below. */
export interface Templates {
  /** Instance id by journey key. */
  [journey: string]: string;
}

/**
 * Saves and publishes the journeys through the API (pausing the baseline's), then enters one person
 * into each event-triggered journey through /v1/track and waits until the pipeline has created the
 * instance. The baseline journey's template is the timer journey's (same definition).
 */
export async function createJourneys(
  server: WaymarkServer,
  db: pg.Client,
  workspaceId: string,
  receiverUrl: string,
): Promise<Templates> {
  const definitions = journeyDefinitions(receiverUrl);
  for (const def of definitions) {
    const saved = (await admin(server, "PUT", `/api/v1/journeys/${def.key}`, def)) as {
      violations: unknown[];
    };
    if (saved.violations.length > 0) {
      throw new Error(`journey ${def.key} breaks rules: ${JSON.stringify(saved.violations)}`);
    }
    await admin(server, "POST", `/api/v1/journeys/${def.key}/publish`);
  }
  await admin(server, "POST", `/api/v1/journeys/${TIMER_BASELINE_JOURNEY}/pause`);
  const entered = [WAIT_JOURNEY, TIMER_JOURNEY, HOLD_JOURNEY];
  for (const key of entered) {
    const def = definitions.find((d) => d.key === key)!;
    await track(
      server,
      trackBody(`template-${key}`, def.trigger.event!, `template-${key}`, {
        plan: "pro",
        cart_id: "cart_template",
        total: 129.5,
      }),
    );
  }
  const until = performance.now() + 60_000;
  for (;;) {
    const { rows } = await db.query<{ journey_key: string; id: string }>(
      `SELECT journey_key, id FROM journey_instances WHERE workspace_id = $1 AND journey_key = ANY($2) AND status = 'active'`,
      [workspaceId, entered],
    );
    if (rows.length === entered.length) {
      const templates: Templates = Object.fromEntries(rows.map((r) => [r.journey_key, r.id]));
      templates[TIMER_BASELINE_JOURNEY] = templates[TIMER_JOURNEY]!;
      return templates;
    }
    if (performance.now() > until) {
      throw new Error(
        `the runtime created ${rows.length} of ${entered.length} template instances within 60 s`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Clones a template instance `count` times for `journey`, in statements of `perStatement` rows (each
 * its own transaction). `people` is a SQL expression over `g` (1..count) giving `profile_id` and
 * `user_id` columns (a LATERAL subquery), `times` one giving `entered_at` and `due_at`. The trigger
 * message gets the person's userId, a unique messageId and the entry time; the waiting part of the
 * state its time (`waiting.until` = due_at for a wait, `waiting.since` = entered_at for a hold).
 */
export async function cloneInstances(
  db: pg.Client,
  o: {
    template: string;
    journey: string;
    count: number;
    people: string;
    times: string;
    params?: unknown[];
    perStatement?: number;
    onProgress?: (done: number) => void;
  },
): Promise<number> {
  const started = performance.now();
  const per = o.perStatement ?? 100_000;
  const iso = (col: string) =>
    `to_jsonb(to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
  for (let from = 1; from <= o.count; from += per) {
    const to = Math.min(o.count, from + per - 1);
    await db.query(
      `INSERT INTO journey_instances (id, workspace_id, journey_key, version, profile_id, key, status, step,
         due_at, goal_until, entered_at, ended_at, state, updated_at)
       SELECT gen_random_uuid(), t.workspace_id, $2, t.version, p.profile_id, t.key, t.status, t.step,
         w.due_at, t.goal_until, w.entered_at, NULL,
         jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(t.state,
           '{context,trigger,messageId}', to_jsonb('bench-' || $2 || '-' || g)),
           '{context,trigger,userId}', to_jsonb(p.user_id)),
           '{context,trigger,timestamp}', ${iso("w.entered_at")}),
           '{context,trigger,receivedAt}', ${iso("w.entered_at")}),
           CASE WHEN t.state->'waiting'->>'kind' = 'wait' THEN '{waiting,until}' ELSE '{waiting,since}' END::text[],
           CASE WHEN t.state->'waiting'->>'kind' = 'wait' THEN ${iso("w.due_at")} ELSE ${iso("w.entered_at")} END),
         w.entered_at
       FROM journey_instances t
       CROSS JOIN generate_series($3::int, $4::int) AS g
       CROSS JOIN LATERAL (${o.people}) AS p
       CROSS JOIN LATERAL (${o.times}) AS w
       WHERE t.id = $1`,
      [o.template, o.journey, from, to, ...(o.params ?? [])],
    );
    o.onProgress?.(to);
  }
  return (performance.now() - started) / 1000;
}

/** People made with SQL for the webhook benchmark: `reader_<g>` (see createProfiles in pipeline-data.ts). */
export const readerPeople = (workspaceParam: string, offset = 0) =>
  `SELECT i.profile_id, i.value AS user_id FROM identities i
   WHERE i.workspace_id = ${workspaceParam} AND i.type = 'user_id' AND i.value = 'reader_' || (g - 1 + ${offset})`;

/** People with no profile row (the engine then sees no traits): enough for instances that only wait. */
export const anonymousPeople = `SELECT gen_random_uuid() AS profile_id, 'waiter_' || g AS user_id`;
