import { randomUUID } from "node:crypto";
import type pg from "pg";

/**
 * The people behind the pipeline benchmark and their events, and the SQL that puts a large log or a
 * large set of profiles straight into PostgreSQL (loading a million events through HTTP would take
 * minutes on two cores and measure ingestion, which `npm run bench` measures on its own).
 *
 * Each person sends 10 events. Most browse anonymously (anonymousId only), log in (identify with
 * userId, anonymousId and an email trait: the anonymous profile keeps the identifiers, no merge),
 * then keep tracking as a known user. One person in ten is a known user from the start who then
 * browses on a second device and logs in there: that login merges the second device's anonymous
 * profile into theirs. So N events make N/10 live profiles and N/100 merges (none with
 * BENCH_PIPELINE_MERGES=0, where that tenth person is like the others).
 */

export const EVENTS_PER_PERSON = 10;

export interface Population {
  people: number;
  /** people × 10. */
  events: number;
  /** Whether every tenth person logs in on a second device. */
  merges: boolean;
  /** People who log in on a second device: one merge each. */
  merging: number;
}

/** The population for about `events` events (rounded down to whole people, at least 100). */
export function population(events: number, merges = true): Population {
  const people = Math.max(100, Math.floor(events / EVENTS_PER_PERSON));
  return { people, events: people * EVENTS_PER_PERSON, merges, merging: merges ? Math.ceil(people / 10) : 0 };
}

export const userIdOf = (person: number) => `user_${person}`;
export const emailOf = (person: number) => `person-${person}@example.com`;
/** The person's first device (uuid-shaped, like an analytics.js anonymousId). */
export const anonymousIdOf = (person: number) => `${hex8(person)}-0a0a-4a0a-8a0a-000000000001`;
/** The second device of a merging person. */
const secondDeviceOf = (person: number) => `${hex8(person)}-0b0b-4b0b-8b0b-000000000002`;
const hex8 = (n: number) => n.toString(16).padStart(8, "0");

type Step = { kind: "track" | "identify"; userId: string | null; anonymousId: string };

/** What a person does in their `round`-th event (0..9). */
function stepOf(person: number, round: number, merges: boolean): Step {
  const user = userIdOf(person);
  const a = anonymousIdOf(person);
  if (!merges || person % 10 !== 0) {
    if (round < 2) return { kind: "track", userId: null, anonymousId: a }; // browsing anonymously
    if (round === 2) return { kind: "identify", userId: user, anonymousId: a }; // login: attaches
    return { kind: "track", userId: user, anonymousId: a };
  }
  const b = secondDeviceOf(person);
  // The login on the second device comes at step 4 to 9 depending on the person, so that merges
  // spread over the log rather than all falling in the same rounds.
  const login = 4 + (Math.floor(person / 100) % 6);
  if (round === 0) return { kind: "identify", userId: user, anonymousId: a }; // a known user
  if (round < login - 3) return { kind: "track", userId: user, anonymousId: a };
  if (round < login) return { kind: "track", userId: null, anonymousId: b }; // second device, anonymous
  if (round === login) return { kind: "identify", userId: user, anonymousId: b }; // login there: merges
  return { kind: "track", userId: user, anonymousId: b };
}

/**
 * The order of the log. People come in ten cohorts (person k in cohort ⌊k/10⌋ mod 10) that start one
 * round apart: round g holds step g − c of every person of cohort c with 0 ≤ g − c ≤ 9, so from
 * round 9 on every round mixes all ten steps; with the second-device logins at steps 4 to 9, merges
 * are 0.3% to 2% of the events of every round from round 4 on (the first 10% of the log has none).
 * Within a round people come in a scrambled order (a stride coprime with its size), so the events
 * of one resolve batch belong to different people. A merge's first second-device event is three rounds
 * before it, at least 2 × people/10 events.
 */
function* logOrder(people: number): Generator<{ person: number; step: number }> {
  const cohortOf = (k: number) => Math.floor(k / 10) % 10;
  const cohorts: number[][] = Array.from({ length: 10 }, () => []);
  for (let k = 0; k < people; k++) cohorts[cohortOf(k)]!.push(k);
  for (let g = 0; g < 10 + 9; g++) {
    const round: number[] = [];
    for (let c = Math.max(0, g - 9); c <= Math.min(9, g); c++) round.push(...cohorts[c]!);
    const stride = coprimeStride(round.length);
    for (let j = 0; j < round.length; j++) {
      const person = round[(j * stride + g * 1009) % round.length]!;
      yield { person, step: g - cohortOf(person) };
    }
  }
}

function coprimeStride(n: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return [7919, 104_729, 1_299_709, 15_485_863].find((p) => gcd(p, n) === 1)!;
}

const PRODUCTS = [
  { id: "sku_4821", name: "Trail Running Shoes", category: "Footwear", price: 89.99 },
  { id: "sku_1077", name: "Merino Wool Socks (3 pack)", category: "Accessories", price: 24.5 },
  { id: "sku_3390", name: "Waterproof Shell Jacket", category: "Outerwear", price: 179 },
  { id: "sku_2214", name: "Insulated Water Bottle 750ml", category: "Gear", price: 32 },
  { id: "sku_5502", name: "Lightweight Daypack 22L", category: "Bags", price: 64.95 },
];
const TRACKED = ["Product Viewed", "Product Added", "Checkout Started", "Product Clicked"];
const AGENT =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

// Placeholders that JSON.stringify leaves as they are: a template is rendered by string joins.
const P = {
  messageId: "@@MESSAGE_ID@@",
  timestamp: "@@TIMESTAMP@@",
  receivedAt: "@@RECEIVED_AT@@",
  userId: "@@USER_ID@@",
  anonymousId: "@@ANONYMOUS_ID@@",
  email: "@@EMAIL@@",
  probe: "@@PROBE@@",
} as const;
type Values = Partial<Record<keyof typeof P, string>>;
const KEYS = Object.keys(P) as Array<keyof typeof P>;
const BY_PLACEHOLDER = new Map(KEYS.map((k) => [P[k], k]));
const SPLIT = new RegExp(`"(${Object.values(P).join("|")})"`);

/** A message as JSON text with its placeholders cut out: text, key, text, key, ..., text. */
class Template {
  private readonly parts: string[];
  constructor(message: Record<string, unknown>) {
    this.parts = JSON.stringify(message).split(SPLIT);
  }
  render(v: Values): string {
    let out = this.parts[0]!;
    for (let i = 1; i < this.parts.length; i += 2) {
      out += `"${v[BY_PLACEHOLDER.get(this.parts[i] as (typeof P)[keyof typeof P])!] ?? ""}"${this.parts[i + 1]}`;
    }
    return out;
  }
}

function context(path: string, title: string): Record<string, unknown> {
  return {
    library: { name: "analytics.js", version: "npm:next-1.84.3" },
    page: {
      path,
      referrer: "https://www.google.com/",
      search: "",
      title,
      url: `https://shop.example.com${path}`,
    },
    userAgent: AGENT,
    locale: "en-US",
  };
}

function trackMessage(variant: number, known: boolean): Record<string, unknown> {
  const product = PRODUCTS[variant % PRODUCTS.length]!;
  const slug = product.name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return {
    type: "track",
    event: TRACKED[variant % TRACKED.length]!,
    ...(known ? { userId: P.userId } : {}),
    anonymousId: P.anonymousId,
    messageId: P.messageId,
    timestamp: P.timestamp,
    properties: {
      product_id: product.id,
      name: product.name,
      category: product.category,
      price: product.price,
      quantity: 1 + (variant % 3),
      currency: "USD",
    },
    context: context(`/products/${slug}`, `${product.name} | Acme Store`),
  };
}

function identifyMessage(traits: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "identify",
    userId: P.userId,
    anonymousId: P.anonymousId,
    messageId: P.messageId,
    timestamp: P.timestamp,
    traits,
    context: context("/account/login", "Sign in | Acme Store"),
  };
}

/** What the server stores for a message sent from 127.0.0.1 (see normalise() in src/ingest/core/validate.ts). */
function stored(message: Record<string, unknown>): Record<string, unknown> {
  return {
    ...message,
    context: { ...(message.context as object), ip: "127.0.0.1" },
    originalTimestamp: P.timestamp,
    receivedAt: P.receivedAt,
  };
}

const VARIANTS = 20;
const LOGIN_TRAITS = { email: P.email, name: "Ada Example", plan: "pro" };

/** The messages of the population, as stored in the log (for the SQL load) or as sent (HTTP). */
export class PopulationEvents {
  private readonly prefix = randomUUID().slice(0, 24);
  private readonly order: Generator<{ person: number; step: number }>;
  private next = 0;
  private readonly storedTrack = [false, true].map((known) =>
    Array.from({ length: VARIANTS }, (_, v) => new Template(stored(trackMessage(v, known)))),
  );
  private readonly storedIdentify = new Template(stored(identifyMessage(LOGIN_TRAITS)));
  private readonly sentTrack = Array.from(
    { length: VARIANTS },
    (_, v) => new Template(trackMessage(v, true)),
  );
  private readonly sentAnonymous = new Template(trackMessage(0, false));
  private readonly sentProbe = new Template(identifyMessage({ benchProbe: P.probe }));
  private readonly sentLogin = new Template(identifyMessage(LOGIN_TRAITS));

  constructor(readonly pop: Population) {
    this.order = logOrder(pop.people);
  }

  private messageId(): string {
    return `${this.prefix}${(this.next++).toString(16).padStart(12, "0")}`;
  }

  /** The next event of the log as the server would have stored it. */
  nextStored(timestamp: string, receivedAt: string): string {
    const next = this.order.next();
    if (next.done) throw new Error("the population's events are all out");
    const { person, step } = next.value;
    const s = stepOf(person, step, this.pop.merges);
    const values: Values = {
      messageId: this.messageId(),
      timestamp,
      receivedAt,
      anonymousId: s.anonymousId,
      userId: s.userId ?? undefined,
      email: emailOf(person),
    };
    if (s.kind === "identify") return this.storedIdentify.render(values);
    return this.storedTrack[s.userId ? 1 : 0]![this.next % VARIANTS]!.render(values);
  }

  /** A track event of a known person (userId and first device), as an SDK sends it. */
  track(person: number, timestamp: string): string {
    return this.sentTrack[this.next % VARIANTS]!.render({
      messageId: this.messageId(),
      timestamp,
      userId: userIdOf(person),
      anonymousId: anonymousIdOf(person),
    });
  }

  /** A track event of a new anonymous visitor (a new profile). */
  anonymousVisitor(timestamp: string): string {
    const id = this.messageId();
    return this.sentAnonymous.render({ messageId: id, timestamp, anonymousId: `visitor-${id}` });
  }

  /**
   * A known person on a new device: an anonymous track there, then a login (identify with their userId
   * and the device's anonymousId) that merges the device's new profile into theirs.
   */
  secondDeviceLogin(person: number, timestamp: string): [string, string] {
    const device = `device-${this.prefix}${this.next.toString(16)}`;
    const browse = this.sentAnonymous.render({ messageId: this.messageId(), timestamp, anonymousId: device });
    const login = this.sentLogin.render({
      messageId: this.messageId(),
      timestamp,
      userId: userIdOf(person),
      anonymousId: device,
      email: emailOf(person),
    });
    return [browse, login];
  }

  /** An identify setting trait benchProbe = `probe` on a known person: it shows when it is applied. */
  probe(person: number, probe: number, timestamp: string): string {
    return this.sentProbe.render({
      messageId: this.messageId(),
      timestamp,
      userId: userIdOf(person),
      anonymousId: anonymousIdOf(person),
      probe: String(probe),
    });
  }
}

/** What the load put into the log. */
export interface Loaded {
  events: number;
  seconds: number;
}

/**
 * Appends the population's events to the log through `append_events` (migration 0004, the server's
 * own write path: messageId claims, the workspace's sequence lock, gap-free seqs), up to 5,000 events
 * per call, on two connections so that one chunk's JSON is parsed while the other holds the lock. Two
 * chunks in flight can swap places in the log; a person's order-sensitive events are two rounds
 * apart, at least people/5 events, and a chunk is at most people/20, so the outcome (profiles,
 * merges) does not change.
 */
export async function loadLog(
  clients: [pg.Client, pg.Client],
  workspaceId: string,
  events: PopulationEvents,
  onProgress: (done: number) => void,
): Promise<Loaded> {
  const total = events.pop.events;
  const chunk = Math.min(5000, Math.max(1, Math.floor(events.pop.people / 20)));
  const started = performance.now();
  // Timestamps before now, one ms apart, so later events are later for "last timestamp wins".
  const first = Date.now() - total;
  let nextIndex = 0;
  let appended = 0;
  const worker = async (client: pg.Client) => {
    while (nextIndex < total) {
      const from = nextIndex;
      const to = Math.min(total, from + chunk);
      nextIndex = to;
      const receivedAt = new Date().toISOString();
      const items: string[] = new Array<string>(to - from);
      for (let i = from; i < to; i++) {
        items[i - from] = events.nextStored(new Date(first + i).toISOString(), receivedAt);
      }
      const { rows } = await client.query<{ fresh: number }>(
        "SELECT count(*) FILTER (WHERE f)::int AS fresh FROM unnest(append_events($1, $2::jsonb)) AS f",
        [workspaceId, `[${items.join(",")}]`],
      );
      appended += rows[0]!.fresh;
      onProgress(appended);
    }
  };
  await Promise.all(clients.map(worker));
  return { events: appended, seconds: (performance.now() - started) / 1000 };
}

/**
 * Adds `count` profiles straight into `profiles` and `identities`, shaped like the pipeline's
 * (traits with their times, derived fields, counts) with a user_id, an email and an anonymous_id
 * each, `perStatement` profiles per statement (each its own transaction).
 */
export async function createProfiles(
  db: pg.Client,
  workspaceId: string,
  count: number,
  onProgress: (done: number) => void,
  perStatement = 100_000,
): Promise<number> {
  const started = performance.now();
  for (let from = 0; from < count; from += perStatement) {
    const to = Math.min(count, from + perStatement) - 1;
    await db.query(
      `WITH p AS MATERIALIZED (
         SELECT g, gen_random_uuid() AS id, 'reader-' || g || '@example.com' AS email,
                now() - make_interval(mins => g % 100000) AS at
         FROM generate_series($2::int, $3::int) AS g),
       ins AS (
         INSERT INTO profiles (workspace_id, id, traits, trait_times, first_seen, last_seen, last_ip,
                               timezone, device, event_count, counts, created_at, updated_at)
         SELECT $1, id,
           jsonb_build_object('email', email, 'name', 'Reader ' || g, 'plan', (ARRAY['free', 'pro', 'team'])[1 + g % 3]),
           jsonb_build_object('email', at, 'name', at, 'plan', at),
           at - interval '30 days', at, '127.0.0.1', 'Europe/Berlin',
           jsonb_build_object('userAgent', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15'),
           12, '{"track": 10, "identify": 1, "page": 1}'::jsonb, at - interval '30 days', at
         FROM p)
       INSERT INTO identities (workspace_id, type, value, profile_id, first_seen, event_seq)
       SELECT $1, t.type, t.value, p.id, p.at - interval '30 days', NULL
       FROM p CROSS JOIN LATERAL (VALUES
         ('user_id', 'reader_' || p.g),
         ('email', p.email),
         ('anonymous_id', md5('reader' || p.g)::uuid::text)) AS t(type, value)`,
      [workspaceId, from, to],
    );
    onProgress(to + 1);
  }
  return (performance.now() - started) / 1000;
}
