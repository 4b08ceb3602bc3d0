import { randomUUID } from "node:crypto";

/**
 * Realistic Segment track events (~800 bytes as sent), built from pre-serialised templates so that
 * the load generator, which shares this 2-core machine with the server, spends little CPU on them.
 * Every event gets a unique messageId, so the server stores every one (no duplicates).
 */

const PRODUCTS = [
  { id: "sku_4821", name: "Trail Running Shoes", category: "Footwear", price: 89.99 },
  { id: "sku_1077", name: "Merino Wool Socks (3 pack)", category: "Accessories", price: 24.5 },
  { id: "sku_3390", name: "Waterproof Shell Jacket", category: "Outerwear", price: 179 },
  { id: "sku_2214", name: "Insulated Water Bottle 750ml", category: "Gear", price: 32 },
  { id: "sku_5502", name: "Lightweight Daypack 22L", category: "Bags", price: 64.95 },
];
const EVENTS = ["Product Viewed", "Product Added", "Checkout Started", "Product Clicked"];
const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
];
/** Distinct users, spread over events so that the user_id and anonymous_id indexes see real spread. */
const USERS = 50_000;
const VARIANTS = 60;

// Placeholders that JSON.stringify leaves as they are and that no template value contains.
const MESSAGE_ID = "@@MESSAGE_ID@@";
const TIMESTAMP = "@@TIMESTAMP@@";
const USER_ID = "@@USER_ID@@";
const ANONYMOUS_ID = "@@ANONYMOUS_ID@@";

interface Template {
  /** The event JSON split at its placeholders: text, placeholder, text, placeholder, ..., text. */
  parts: string[];
  event: string;
}

interface Values {
  messageId: string;
  timestamp: string;
  userId: string;
  anonymousId: string;
}

/** One event row as the baseline inserts it: the columns of `events`, `message` as JSON text. */
export interface EventRowText {
  messageId: string;
  userId: string;
  anonymousId: string;
  event: string;
  timestamp: string;
  message: string;
}

export class EventFactory {
  private readonly prefix = randomUUID().slice(0, 24);
  private next = 0;
  private readonly sent: Template[] = [];
  private readonly stored: Template[] = [];

  constructor() {
    for (let v = 0; v < VARIANTS; v++) {
      const product = PRODUCTS[v % PRODUCTS.length]!;
      const event = EVENTS[v % EVENTS.length]!;
      const slug = product.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/-$/, "");
      const msg = {
        type: "track",
        event,
        userId: USER_ID,
        anonymousId: ANONYMOUS_ID,
        messageId: MESSAGE_ID,
        timestamp: TIMESTAMP,
        properties: {
          product_id: product.id,
          name: product.name,
          category: product.category,
          price: product.price,
          quantity: 1 + (v % 3),
          currency: "USD",
          cart_id: `cart_${(v * 104729).toString(36)}`,
        },
        context: {
          library: { name: "analytics.js", version: "npm:next-1.84.3" },
          page: {
            path: `/products/${slug}`,
            referrer: "https://www.google.com/",
            search: "",
            title: `${product.name} | Acme Store`,
            url: `https://shop.example.com/products/${slug}`,
          },
          userAgent: AGENTS[v % AGENTS.length]!,
          locale: "en-US",
        },
      };
      this.sent.push({ event, parts: split(JSON.stringify(msg)) });
      // What the server stores for the same message (see normalise() in src/ingest/core/validate.ts).
      const storedMsg = {
        ...msg,
        context: { ...msg.context, ip: "127.0.0.1" },
        originalTimestamp: TIMESTAMP,
        receivedAt: TIMESTAMP,
      };
      this.stored.push({ event, parts: split(JSON.stringify(storedMsg)) });
    }
  }

  /** The next event's values: a unique, uuid-shaped messageId, a user, and its template. */
  private nextValues(now: string): { values: Values; variant: number } {
    const n = this.next++;
    const user = (n * 7919) % USERS; // a prime stride: consecutive events come from different users
    return {
      values: {
        messageId: `${this.prefix}${n.toString(16).padStart(12, "0")}`,
        timestamp: now,
        userId: `user_${user}`,
        anonymousId: `anon-${user.toString(16).padStart(8, "0")}-4c1d-9a2e-5f0b7d3e8a61`,
      },
      variant: n % VARIANTS,
    };
  }

  /** One track event as an SDK sends it (`/v1/track` body or one item of a batch). */
  track(now: string): string {
    const { values, variant } = this.nextValues(now);
    return render(this.sent[variant]!.parts, values);
  }

  /** A `/v1/batch` body of `count` events. */
  batch(count: number, now: string): string {
    const items: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) items[i] = this.track(now);
    return `{"batch":[${items.join(",")}],"sentAt":"${now}"}`;
  }

  /** The row the server would store for one event, for the direct-to-PostgreSQL baseline. */
  row(now: string): EventRowText {
    const { values, variant } = this.nextValues(now);
    const t = this.stored[variant]!;
    return { ...values, event: t.event, message: render(t.parts, values) };
  }
}

const PLACEHOLDERS = [MESSAGE_ID, TIMESTAMP, USER_ID, ANONYMOUS_ID];

function split(json: string): string[] {
  return json.split(new RegExp(`"(${PLACEHOLDERS.join("|")})"`));
}

function render(parts: string[], v: Values): string {
  let out = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) {
    const p = parts[i];
    const value =
      p === MESSAGE_ID
        ? v.messageId
        : p === TIMESTAMP
          ? v.timestamp
          : p === USER_ID
            ? v.userId
            : v.anonymousId;
    out += `"${value}"${parts[i + 1]!}`;
  }
  return out;
}
