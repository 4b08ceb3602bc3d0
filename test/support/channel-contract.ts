import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { Channel, ChannelKind, OutgoingMessage } from "../../src/messaging/core/channel.ts";

/** One message as the receiving side saw it. */
export interface Delivery {
  /** The idempotency key as it travelled: the Message-ID, the webhook-id, a header, a data field. */
  key: string;
  /** What the receiver got that the person will see, in the shape `contentOf` gives. */
  content: unknown;
}

/**
 * An adapter under the channel contract, with its receiving side: a real server (smtp-server, the
 * webhook receiver) or, for a paid provider, a fake speaking its API over HTTP.
 */
export interface ChannelContractSubject {
  kind: ChannelKind;
  provider: string;
  /** Opens a new channel under test (the suite closes it). */
  open(): Channel | Promise<Channel>;
  /** A message to a destination that accepts it; `n` tells messages apart. */
  message(idempotencyKey: string, n: number): OutgoingMessage;
  /** What the receiving side must show for `message`. */
  contentOf(message: OutgoingMessage): unknown;
  /** The key as the receiver sees it, for `message.idempotencyKey` (default: the key itself). */
  carriedKey?(idempotencyKey: string): string;
  /** What the receiving side accepted since the last `reset`, in order. */
  deliveries(): Delivery[] | Promise<Delivery[]>;
  /** Clears what was received and any failure mode. */
  reset(): void | Promise<void>;
  /** A message the receiver refuses for good, and whether that refusal is a bounce (bad address). */
  permanentFailure(idempotencyKey: string): { message: OutgoingMessage; bounce: boolean };
  /** Makes the receiver fail the next send for now (429, 5xx, SMTP 451); returns the message to send. */
  temporaryFailure(idempotencyKey: string): OutgoingMessage;
  /**
   * A destination the outbound guard refuses (a listener on 127.0.0.2, off the allow list). Left out
   * by an adapter that does not go through the outbound client (SMTP).
   */
  refused?: {
    open(): Channel | Promise<Channel>;
    message(idempotencyKey: string): OutgoingMessage;
    /** Connections the refused listener accepted. */
    connections(): number;
  };
}

/** The contract every channel adapter passes (STYLE rule 11). */
export function channelContract(name: string, subject: () => ChannelContractSubject): void {
  describe(`${name}: the channel contract`, () => {
    const opened: Channel[] = [];
    const open = async (make: () => Channel | Promise<Channel>) => {
      const channel = await make();
      opened.push(channel);
      return channel;
    };
    const carried = (key: string) => subject().carriedKey?.(key) ?? key;

    beforeEach(async () => {
      await subject().reset();
    });

    afterAll(async () => {
      await Promise.all(opened.map((c) => c.close()));
    });

    it("names its channel kind and provider", async () => {
      const s = subject();
      const channel = await open(() => s.open());
      expect({ kind: channel.kind, provider: channel.provider }).toEqual({
        kind: s.kind,
        provider: s.provider,
      });
    });

    it("delivers a message: the receiver sees its content and its idempotency key", async () => {
      const s = subject();
      const channel = await open(() => s.open());
      const message = s.message("journey:cart/remind.1#a", 1);
      expect(await channel.send(message)).toMatchObject({ ok: true });
      const deliveries = await s.deliveries();
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toEqual({ key: carried(message.idempotencyKey), content: s.contentOf(message) });
    });

    it("sends a retry with the same idempotency key, so the receiver can tell it is the same message", async () => {
      const s = subject();
      const channel = await open(() => s.open());
      const first = s.message("retry-key-1", 2);
      const other = s.message("retry-key-2", 3);
      expect(await channel.send(first)).toMatchObject({ ok: true });
      expect(await channel.send(other)).toMatchObject({ ok: true });
      expect(await channel.send(first)).toMatchObject({ ok: true });
      const keys = (await s.deliveries()).map((d) => d.key);
      expect(keys).toEqual([carried("retry-key-1"), carried("retry-key-2"), carried("retry-key-1")]);
      expect(carried("retry-key-1")).not.toBe(carried("retry-key-2"));
    });

    it("reports a refusal for good as permanent, and as a bounce when the address is bad", async () => {
      const s = subject();
      const channel = await open(() => s.open());
      const { message, bounce } = s.permanentFailure("permanent-1");
      const result = await channel.send(message);
      expect(result).toMatchObject({ ok: false, permanent: true, reason: expect.any(String) });
      expect(!result.ok && (result.bounce ?? false)).toBe(bounce);
    });

    it("reports a temporary failure as retryable, and the retry goes through", async () => {
      const s = subject();
      const channel = await open(() => s.open());
      const message = s.temporaryFailure("temporary-1");
      const result = await channel.send(message);
      expect(result).toMatchObject({ ok: false, permanent: false, reason: expect.any(String) });
      expect(!result.ok && result.bounce).toBeFalsy();
      await s.reset();
      expect(await channel.send(message)).toMatchObject({ ok: true });
      expect((await s.deliveries()).map((d) => d.key)).toEqual([carried("temporary-1")]);
    });

    it("refuses a destination the outbound guard refuses, permanently, without connecting", async (ctx) => {
      const refused = subject().refused;
      if (!refused) return ctx.skip();
      const channel = await open(() => refused.open());
      const result = await channel.send(refused.message("refused-1"));
      expect(result).toMatchObject({ ok: false, permanent: true });
      expect(!result.ok && result.reason).toMatch(
        /refused: loopback address 127\.0\.0\.2 .*allow it with WAYMARK_OUTBOUND_ALLOW/,
      );
      expect(refused.connections()).toBe(0);
    });

    it("closes; a send after that fails as retryable (on a new channel) and reaches no one", async () => {
      const s = subject();
      const channel = await s.open();
      expect(await channel.send(s.message("before-close", 4))).toMatchObject({ ok: true });
      await channel.close();
      expect(await channel.send(s.message("after-close", 5))).toMatchObject({ ok: false, permanent: false });
      expect((await s.deliveries()).map((d) => d.key)).toEqual([carried("before-close")]);
      await channel.close();
    });
  });
}
