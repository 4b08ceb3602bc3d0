import { z } from "zod";
// Pure helpers of the journeys module (time zones, durations), imported directly: pure to pure, and
// journeys/index.ts would pull the runtime (pg) into this pure file.
import { isTimeOfDay, isTimeZone, localParts, nextTimeOfDay } from "../../journeys/core/calendar.ts";
import { DURATION_MESSAGE, parseDuration } from "../../journeys/core/duration.ts";

/**
 * Whether a message may go out now: consent (topics, subscriptions, suppression) and the workspace's
 * delivery policy (frequency caps, quiet hours). Pure: the dispatcher loads the inputs
 * (`consentInputsFor` in decide.ts) and records the decision.
 */

/** The channels a delivery policy governs. Webhooks are calls to systems, not to people: no caps, no quiet hours. */
export const POLICY_CHANNELS = ["email", "sms", "push"] as const;
export type PolicyChannel = (typeof POLICY_CHANNELS)[number];

const DAY = 86_400_000;
const HOUR = 3_600_000;

const capDurationSchema = z
  .string()
  .refine((text) => (parseDuration(text) ?? 0) > 0, { message: DURATION_MESSAGE + ", longer than 0" });

const timeOfDaySchema = z
  .string()
  .refine(isTimeOfDay, { message: "must be a time of day HH:MM, 24 h (21:00)" });

/** One frequency cap: at most `limit` messages on `channel` (`*`: email, SMS and push together) per `per`. */
export const capSchema = z.strictObject({
  channel: z.enum([...POLICY_CHANNELS, "*"]).describe("email, sms, push, or * for all three together"),
  limit: z.number().int().min(0).describe("messages allowed in the window; 0 stops the channel"),
  per: capDurationSchema.describe(
    "the window: whole days or weeks (1d, 7d, 2w, P1D) count calendar days in the person's time zone; " +
      "anything with hours or less (24h, PT12H) is a rolling window ending now",
  ),
});

export const quietHoursSchema = z
  .strictObject({
    start: timeOfDaySchema.describe("local time the quiet hours begin, e.g. 21:00"),
    end: timeOfDaySchema.describe("local time they end, e.g. 08:00 (before start: they cross midnight)"),
    mode: z
      .enum(["delay", "drop"])
      .default("delay")
      .describe("delay: send at the end of the quiet hours; drop: skip the message"),
    channels: z
      .array(z.enum(POLICY_CHANNELS))
      .min(1)
      .optional()
      .describe("channels the quiet hours apply to (default: email, sms and push)"),
  })
  .refine((q) => q.start !== q.end, { message: "end must differ from start", path: ["end"] });

/** A workspace's delivery policy. The default: no caps, no quiet hours, every journey priority 0. */
export const deliveryPolicySchema = z.strictObject({
  caps: z
    .array(capSchema)
    .default([])
    .describe("frequency caps; a message must fit every cap of its channel"),
  quietHours: quietHoursSchema.optional().describe("hours, in the person's time zone, nothing is sent"),
  priorities: z
    .record(z.string().min(1), z.number().finite())
    .default({})
    .describe("journey key -> priority (default 0); higher goes first when a person's messages compete"),
});

export type DeliveryPolicy = z.output<typeof deliveryPolicySchema>;
export type FrequencyCap = z.output<typeof capSchema>;

export const DEFAULT_POLICY: DeliveryPolicy = { caps: [], priorities: {} };

/** A topic as the decision needs it. */
export interface TopicDefinition {
  key: string;
  /** The channels the topic is offered on. */
  channels: string[];
  /** opt_in: only people who subscribed get it; opt_out: everyone until they unsubscribe. */
  defaultMode: "opt_in" | "opt_out";
}

/** One explicit choice of a person. Topic `*` is the channel's global unsubscribe; channel `*` is every channel. */
export interface SubscriptionChoice {
  topic: string;
  channel: string;
  status: "subscribed" | "unsubscribed";
}

/** A message sent to the person lately (the frequency caps count these). */
export interface RecentSend {
  channel: string;
  sentAt: Date;
  journey: string | null;
  priority: number;
}

export interface DeliveryInput {
  channel: string;
  /** The message's topic, or null (a message without a topic is subject to global unsubscribes only). */
  topic: string | null;
  /** A receipt, a password reset: skips topics, caps and quiet hours, never suppression. */
  transactional: boolean;
  journey: string | null;
  /** The message's priority (`priorityOf(policy, journey)`); see `orderByPriority`. */
  priority: number;
  now: Date;
  /** The person's IANA time zone, else the workspace default (UTC). An unknown zone counts as UTC. */
  timeZone: string;
  policy: DeliveryPolicy;
  /** The definition of `topic`; null or absent when no such topic exists. */
  topicDefinition?: TopicDefinition | null;
  subscriptions: SubscriptionChoice[];
  /** The address's entry on the suppression list, if any. */
  suppressed: { reason: string } | null;
  /** Messages sent to the person within the longest cap window (transactional ones excluded). */
  recent: RecentSend[];
}

export type DeliveryDecision =
  { action: "send" } | { action: "skip"; reason: string } | { action: "delay"; until: Date; reason: string };

/**
 * Decides one message, rules in this order (the first that applies wins):
 * 1. the address is suppressed: skip `suppressed:<reason>`, transactional or not;
 * 2. transactional: send;
 * 3. the person unsubscribed from the channel (topic `*`): skip `unsubscribed:<channel>`;
 * 4. with a topic: unknown topic: skip `topic_unknown:<topic>`; not offered on this channel: skip
 *    `topic_channel:<topic>`; explicitly unsubscribed: skip `unsubscribed:<topic>`; an opt-in topic
 *    without an explicit subscription: skip `not_subscribed:<topic>`;
 * 5. quiet hours in the person's local time: delay to their end (`quiet_hours:delayed until <iso>`)
 *    or skip (`quiet_hours:dropped`). Before the caps, so a delayed message is counted against the
 *    caps of the time it is actually sent;
 * 6. frequency caps, in policy order: skip `capped:<channel> <limit>/<per>` when the window is full.
 * A choice for the exact channel wins over one for channel `*`.
 */
export function decideDelivery(input: DeliveryInput): DeliveryDecision {
  const { channel, topic, subscriptions, policy, now } = input;
  if (input.suppressed) return skip(`suppressed:${input.suppressed.reason}`);
  if (input.transactional) return { action: "send" };
  if (choiceOf(subscriptions, "*", channel) === "unsubscribed") return skip(`unsubscribed:${channel}`);
  if (topic !== null) {
    const definition = input.topicDefinition;
    if (!definition) return skip(`topic_unknown:${topic}`);
    if (!definition.channels.includes(channel)) return skip(`topic_channel:${topic}`);
    const choice = choiceOf(subscriptions, topic, channel);
    if (choice === "unsubscribed") return skip(`unsubscribed:${topic}`);
    if (definition.defaultMode === "opt_in" && choice !== "subscribed")
      return skip(`not_subscribed:${topic}`);
  }
  const timeZone = zoneOrUtc(input.timeZone);
  const quiet = policy.quietHours;
  if (quiet && governed(channel) && (quiet.channels ?? POLICY_CHANNELS).includes(channel as PolicyChannel)) {
    if (inQuietHours(now, timeZone, quiet.start, quiet.end)) {
      if (quiet.mode === "drop") return skip("quiet_hours:dropped");
      const until = nextTimeOfDay(now, { time: quiet.end, timeZone });
      return { action: "delay", until, reason: `quiet_hours:delayed until ${until.toISOString()}` };
    }
  }
  for (const cap of policy.caps) {
    if (!capCovers(cap.channel, channel)) continue;
    const since = capWindowStart(cap.per, now, timeZone).getTime();
    const sent = input.recent.filter(
      (r) => capCovers(cap.channel, r.channel) && r.sentAt.getTime() >= since && r.sentAt <= now,
    ).length;
    if (sent >= cap.limit) return skip(`capped:${cap.channel} ${cap.limit}/${cap.per}`);
  }
  return { action: "send" };
}

/** The time zone a person's local time is read in: theirs when the runtime knows it, else UTC (the workspace default). */
export function zoneOrUtc(timeZone: string | null | undefined): string {
  return timeZone && isTimeZone(timeZone) ? timeZone : "UTC";
}

function skip(reason: string): DeliveryDecision {
  return { action: "skip", reason };
}

/** The person's choice for (topic, channel): the exact channel first, then channel `*`. */
export function choiceOf(
  subscriptions: SubscriptionChoice[],
  topic: string,
  channel: string,
): "subscribed" | "unsubscribed" | undefined {
  const exact = subscriptions.find((s) => s.topic === topic && s.channel === channel);
  if (exact) return exact.status;
  return subscriptions.find((s) => s.topic === topic && s.channel === "*")?.status;
}

function governed(channel: string): channel is PolicyChannel {
  return (POLICY_CHANNELS as readonly string[]).includes(channel);
}

function capCovers(capChannel: string, channel: string): boolean {
  return capChannel === "*" ? governed(channel) : capChannel === channel;
}

function inQuietHours(now: Date, timeZone: string, start: string, end: string): boolean {
  const p = localParts(now, timeZone);
  const t = p.hour * 60 + p.minute;
  const [s, e] = [minutesOf(start), minutesOf(end)];
  // start > end: the quiet hours cross midnight (21:00-08:00).
  return s < e ? t >= s && t < e : t >= s || t < e;
}

function minutesOf(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
}

/** Windows written in whole days or weeks only: `1d`, `7d`, `2w`, `1w2d`, `P1D`, `P1W`. */
const CALENDAR_WINDOW = /^(?:(?:\d+w)?(?:\d+d)?|P(?:\d+W)?(?:\d+D)?)$/;

/**
 * Where a cap's window starts. A window of N whole days (`1d`, `7d`, `P1W`) is N calendar days in
 * the person's time zone, today included: `1d` counts since local midnight, `7d` since local midnight
 * six days ago. Anything else (`24h`, `PT36H`, `1d12h`) is a rolling window: now minus the duration.
 */
export function capWindowStart(per: string, now: Date, timeZone: string): Date {
  const ms = parseDuration(per);
  if (ms === undefined) throw new RangeError(`cap window ${JSON.stringify(per)}: ${DURATION_MESSAGE}`);
  if (!CALENDAR_WINDOW.test(per) || ms % DAY !== 0) return new Date(now.getTime() - ms);
  const zone = zoneOrUtc(timeZone);
  const today = localParts(now, zone);
  const offset =
    Date.UTC(today.year, today.month - 1, today.day, today.hour, today.minute, today.second) -
    Math.floor(now.getTime() / 1000) * 1000;
  // Local midnight of the first day lies within a few hours of this guess (the UTC offset then may
  // differ by a DST change); starting 3 h early and taking the next 00:00 finds it, and the midnight
  // a day earlier is well before the guess.
  const firstDay = Date.UTC(today.year, today.month - 1, today.day - (ms / DAY - 1));
  return nextTimeOfDay(new Date(firstDay - offset - 3 * HOUR), { time: "00:00", timeZone: zone });
}

/** The priority of a journey's messages: `policy.priorities[journey]`, else 0 (also for messages without a journey). */
export function priorityOf(policy: DeliveryPolicy, journey: string | null): number {
  return journey === null ? 0 : (policy.priorities[journey] ?? 0);
}

/**
 * The order in which the dispatcher decides one person's due messages: higher priority first, then
 * the older message first, then as given. Deciding them one by one in this order (each sent message
 * joining `recent` before the next decision) is how priority works: when a cap has one slot left, the
 * higher-priority journey's message takes it and the others are capped. `decideDelivery` does not
 * reserve slots for messages it cannot see.
 */
export function orderByPriority<T extends { priority: number; createdAt?: Date }>(
  messages: readonly T[],
): T[] {
  return messages
    .map((m, i) => ({ m, i }))
    .sort(
      (a, b) =>
        b.m.priority - a.m.priority ||
        (a.m.createdAt?.getTime() ?? 0) - (b.m.createdAt?.getTime() ?? 0) ||
        a.i - b.i,
    )
    .map(({ m }) => m);
}

/** The longest window of the policy's caps as a start time (null without caps): how far back `recent` must reach. */
export function recentSince(policy: DeliveryPolicy, now: Date, timeZone: string): Date | null {
  let since: Date | null = null;
  for (const cap of policy.caps) {
    const start = capWindowStart(cap.per, now, timeZone);
    if (since === null || start < since) since = start;
  }
  return since;
}
