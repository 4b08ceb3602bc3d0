import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, instancesOf, outboxSettled, publish, type InstanceBody } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { startReceiver, type Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

/**
 * Seed 000's financial-services cart: several credit-card applications of one person, each its own
 * instance keyed by application_id; an application left unfinished gets a reminder an hour after the
 * last completed form step, and a second one a day later, unless it is submitted.
 */
const cardApplication = (hook: string) => ({
  key: "card-application",
  name: "Credit card application",
  trigger: { event: "Application Started" },
  entry: { key: "{{ event.properties.application_id }}" },
  context: {
    collections: {
      steps: { id: "{{ event.properties.form_step }}", upsert: ["Application Step Completed"] },
    },
  },
  exits: [{ event: "Application Submitted" }],
  steps: [
    {
      id: "hold_submit",
      hold_until: {
        events: [{ id: "submitted", event: "Application Submitted", next: "done" }],
        timeout: "1h",
        resetOn: ["Application Step Completed"],
        onTimeout: "first_reminder",
      },
    },
    {
      id: "first_reminder",
      webhook: {
        url: `${hook}/remind`,
        body: {
          reminder: 1,
          application: "{{ instance.key }}",
          card: "{{ context.trigger.properties.card }}",
          stepsDone: "{{ context.steps | size }}",
        },
      },
    },
    { id: "a_day", wait: { duration: "1d" } },
    {
      id: "second_reminder",
      webhook: { url: `${hook}/remind`, body: { reminder: 2, application: "{{ instance.key }}" } },
    },
    { id: "done", exit: {} },
  ],
});

describe("credit-card applications left unfinished (seed 000), sent with the Segment SDK", () => {
  let server: TestServer;
  let receiver: Receiver;
  let analytics: Analytics;
  let clock = new Date("2026-04-01T08:00:00.000Z");
  const later = (ms: number) => (clock = new Date(clock.getTime() + ms));

  const send = (event: string, properties: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) =>
      analytics.track({ userId: "applicant", event, properties }, (err) => (err ? reject(err) : resolve())),
    );
  const byKey = async () => {
    const list = await instancesOf(server, "card-application");
    return new Map<string, InstanceBody>(list.map((i) => [i.key!, i]));
  };
  const reminders = (application: string) =>
    receiver.received
      .map((r) => r.body as { reminder: number; application: string })
      .filter((b) => b.application === application)
      .map((b) => b.reminder);

  beforeAll(async () => {
    receiver = await startReceiver("127.0.0.1");
    server = await startTestServer({ pipeline: true, now: () => clock });
    analytics = new Analytics({
      writeKey: server.keys.writeKey,
      host: server.url,
      flushInterval: 20,
      flushAt: 1,
    });
    await publish(server, cardApplication(receiver.url));
  });
  afterAll(async () => {
    await analytics?.closeAndFlush();
    await server?.close();
    await receiver?.close();
  });

  it("runs each application as its own instance", async () => {
    await send("Application Started", { application_id: "A1", card: "Gold" });
    await send("Application Started", { application_id: "A2", card: "Travel" });
    await send("Application Started", { application_id: "A3", card: "Student" });
    await drained(server);
    const live = await byKey();
    expect([...live.keys()].sort()).toEqual(["A1", "A2", "A3"]);
    expect([...live.values()].every((i) => i.currentStep === "hold_submit")).toBe(true);
  });

  it("restarts the hour on each completed form step", async () => {
    later(30 * MIN);
    await send("Application Step Completed", { application_id: "A1", form_step: "personal" });
    later(20 * MIN);
    await send("Application Step Completed", { application_id: "A1", form_step: "income" });
    await send("Application Submitted", { application_id: "A2" });
    await drained(server);
    const a1 = (await byKey()).get("A1")!;
    expect(a1.dueAt).toBe(new Date(clock.getTime() + 60 * MIN).toISOString());
    expect(a1.timeline.filter((e) => e.kind === "timer_reset")).toHaveLength(2);
  });

  it("a submitted application leaves at once and gets no reminder", async () => {
    const a2 = (await byKey()).get("A2")!;
    expect(a2.status).toBe("exited");
    expect(a2.endReason).toBe("exit event Application Submitted");
  });

  it("reminds an hour after the last activity, with the application's details", async () => {
    later(15 * MIN); // 1 h after A3 started, 15 min after A1's last step
    await receiver.waitFor(1);
    expect(reminders("A3")).toEqual([1]);
    expect(reminders("A1")).toEqual([]);
    // A3's reminder is recorded before the clock passes its claim's lease (else it is sent again).
    await outboxSettled(server);
    later(45 * MIN);
    await receiver.waitFor(2);
    expect(
      receiver.received.find((r) => (r.body as { application: string }).application === "A1")!.body,
    ).toEqual({
      reminder: 1,
      application: "A1",
      card: "Gold",
      stepsDone: 2,
    });
  });

  it("sends the second reminder a day later, unless submitted in between", async () => {
    await outboxSettled(server);
    await send("Application Submitted", { application_id: "A3" });
    await drained(server);
    later(DAY);
    await receiver.waitFor(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(reminders("A1")).toEqual([1, 2]);
    expect(reminders("A3")).toEqual([1]);
    expect(reminders("A2")).toEqual([]);
    const final = await eventually(async () => {
      const m = await byKey();
      return m.get("A1")!.status === "completed" ? m : undefined;
    }, "A1 to complete");
    expect(final.get("A3")!.status).toBe("exited");
    // Each webhook id reached the receiver once.
    const ids = receiver.received.map((r) => r.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
