import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Pool } from "undici";
import type { JourneyInput } from "../src/journeys/index.ts";
import { admin } from "./journeys-data.ts";
import { quantile } from "./load.ts";
import type { WaymarkServer } from "./processes.ts";

/**
 * What the messaging benchmarks send and how they queue it: the channels and templates (saved through
 * the admin API), the journeys of the latency benchmark, the send API load, and the CPU of a process
 * that proc-stats.ts does not watch (the receivers).
 */

/** A webhook to the receiver, through the send API (benchmark 1). */
export const HOOK_TEMPLATE = "bench-hook";
/** An order confirmation by email, through the send API (benchmark 2). */
export const MAIL_TEMPLATE = "bench-mail";
/** The receipt a journey sends when an order is placed (benchmark 3). */
export const RECEIPT_TEMPLATE = "bench-receipt";
/** Order Placed → the receipt by email. */
export const RECEIPT_JOURNEY = "bench-receipt";
/** Product Viewed → a 2 s wait → a webhook: timers firing and effects going out meanwhile. */
export const BUSY_JOURNEY = "bench-busy";

/** The subject of a receipt, by the probe's seq: what the SMTP receiver keys it by. */
export const receiptSubject = (seq: string) => `Receipt ${seq}`;
export const mailSubject = (seq: string) => `Order ${seq} confirmed`;

/**
 * The email of benchmarks 2 and 3: an order confirmation in HTML (about 1.6 KB rendered) with a few
 * Liquid outputs from the profile and the data; the text part is generated from it, as when a
 * template has none.
 */
function orderHtml(order: string, total: string): string {
  const rows = ["Trail running shoes", "Merino socks (3 pairs)", "Water bottle 750 ml"]
    .map(
      (item, i) =>
        `<tr><td style="padding:4px 8px;border-bottom:1px solid #eee">${item}</td>` +
        `<td style="padding:4px 8px;border-bottom:1px solid #eee;text-align:right">${i + 1}</td></tr>`,
    )
    .join("");
  return (
    `<html><body style="font-family:Helvetica,Arial,sans-serif;color:#222">` +
    `<h1 style="font-size:20px">Thanks for your order, {{ profile.traits.name }}!</h1>` +
    `<p>Order <strong>${order}</strong> is confirmed and will ship within two working days. ` +
    `We will send the tracking link as soon as the parcel leaves our warehouse.</p>` +
    `<table style="border-collapse:collapse;width:100%">${rows}</table>` +
    `<p style="font-size:16px">Total: <strong>${total} USD</strong></p>` +
    `<p>Questions? Reply to this email or visit <a href="https://shop.example.com/help">our help centre</a>.</p>` +
    `<p style="font-size:12px;color:#888">Acme Outdoor GmbH, Musterstrasse 1, 10115 Berlin</p>` +
    `</body></html>`
  );
}

export const TEMPLATES: Record<string, Record<string, unknown>> = {
  [HOOK_TEMPLATE]: {
    channel: "webhook",
    body: {
      seq: "{{ data.seq }}",
      email: "{{ profile.traits.email }}",
      order: "{{ data.order }}",
      total: "{{ data.total }}",
      items: "{{ data.items }}",
    },
  },
  [MAIL_TEMPLATE]: {
    channel: "email",
    subject: mailSubject("{{ data.seq }}"),
    html: orderHtml("{{ data.order }}", "{{ data.total }}"),
  },
  [RECEIPT_TEMPLATE]: {
    channel: "email",
    subject: receiptSubject("{{ event.properties.benchSeq }}"),
    html: orderHtml("{{ event.properties.order }}", "{{ event.properties.total }}"),
  },
};

/** The same mail as the dispatcher renders it, for the nodemailer baseline. */
export function renderedMail(seq: string, person: number): { subject: string; html: string; text: string } {
  const html = orderHtml(`A-${seq}`, "129.50").replace("{{ profile.traits.name }}", `Reader ${person}`);
  const text = html
    .replace(/<\/(p|h1|tr)>/g, "\n")
    .replace(/<[^>]+>/g, " ")
    .replace(/[ \t]+/g, " ");
  return { subject: mailSubject(seq), html, text };
}

export function latencyJourneys(receiverUrl: string): JourneyInput[] {
  return [
    {
      key: RECEIPT_JOURNEY,
      name: "Bench: receipt by email",
      trigger: { event: "Order Placed" },
      steps: [
        { id: "receipt", message: { channel: "email", template: RECEIPT_TEMPLATE, transactional: true } },
      ],
    },
    {
      key: BUSY_JOURNEY,
      name: "Bench: a product viewed, then a webhook 2 s later",
      trigger: { event: "Product Viewed" },
      steps: [
        { id: "pause", wait: { duration: "2s" } },
        {
          id: "notify",
          webhook: {
            url: `${receiverUrl}/hooks/viewed`,
            body: {
              seq: "{{ context.trigger.properties.busySeq }}",
              sku: "{{ context.trigger.properties.sku }}",
            },
          },
        },
        { id: "done", exit: {} },
      ],
    },
  ];
}

/** The email channel (SMTP to the receiver) and the templates, through the admin API. */
export async function configureMessaging(server: WaymarkServer, smtpPort: number): Promise<void> {
  await admin(server, "PUT", "/api/v1/channels/email", {
    provider: "smtp",
    host: "127.0.0.1",
    port: smtpPort,
    secure: false,
    from: "Acme Outdoor <orders@shop.example.com>",
  });
  for (const [key, content] of Object.entries(TEMPLATES)) {
    await admin(server, "PUT", `/api/v1/templates/${key}`, content);
  }
}

export async function publishJourneys(server: WaymarkServer, journeys: JourneyInput[]): Promise<void> {
  for (const def of journeys) {
    const saved = (await admin(server, "PUT", `/api/v1/journeys/${def.key}`, def)) as {
      violations: unknown[];
    };
    if (saved.violations.length > 0) {
      throw new Error(`journey ${def.key} breaks rules: ${JSON.stringify(saved.violations)}`);
    }
    await admin(server, "POST", `/api/v1/journeys/${def.key}/publish`);
  }
}

export interface SendLoadResult {
  seconds: number;
  requests: number;
  accepted: number;
  p50: number;
  p99: number;
  failures: Record<string, number>;
}

/**
 * `count` calls of POST /api/v1/send, closed-loop on `clients` keep-alive connections (each client
 * sends its next call when the last is answered); 202 is accepted.
 */
export async function runSends(
  server: WaymarkServer,
  o: { count: number; clients: number; body: (i: number) => unknown },
): Promise<SendLoadResult> {
  const pool = new Pool(server.url, { connections: o.clients, pipelining: 1 });
  const headers = { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" };
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  let accepted = 0;
  const started = performance.now();
  const client = async () => {
    while (next < o.count) {
      const i = next++;
      const t0 = performance.now();
      try {
        const res = await pool.request({
          method: "POST",
          path: "/api/v1/send",
          headers,
          body: JSON.stringify(o.body(i)),
        });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        if (res.statusCode === 202) accepted++;
        else {
          const why = `HTTP ${res.statusCode}: ${text.slice(0, 120)}`;
          failures[why] = (failures[why] ?? 0) + 1;
        }
      } catch (err) {
        const why = (err as { code?: string }).code ?? (err as Error).message;
        failures[why] = (failures[why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, client));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    seconds,
    requests: o.count,
    accepted,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    failures,
  };
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds a process has used so far (utime + stime), 0 when it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Epoch milliseconds on the clock the receivers use. */
export const epochNow = () => performance.timeOrigin + performance.now();
