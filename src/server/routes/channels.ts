import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { NotFoundError } from "../../errors/index.ts";
import {
  CHANNELS,
  PROVIDERS_OF,
  channelConfigSchema,
  getChannelPublic,
  listChannels,
  putChannel,
} from "../../messaging/index.ts";
import type { RouteDeps } from "../context.ts";

const channelView = z.object({
  channel: z.enum(CHANNELS),
  provider: z.string(),
  config: z.record(z.string(), z.unknown()).describe('the settings, every secret shown as "***"'),
  updatedAt: z.string().nullable().describe("null for the webhook channel, which needs no settings"),
});

const channelParams = z.object({
  channel: z.enum(CHANNELS, { error: `channel must be one of ${CHANNELS.join(", ")}` }),
});

/** Channel settings: email, sms, push, webhook (admin token). */
export async function channelRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());
  const common = { tags: ["channels"], security: [{ adminToken: [] }] };
  r.put(
    "/api/v1/channels/:channel",
    {
      schema: {
        ...common,
        summary: "Set a channel's provider and its settings",
        description:
          `Providers: ${Object.entries(PROVIDERS_OF)
            .map(([c, p]) => `${c}: ${p.join(", ")}`)
            .join("; ")}. A secret sent as "***" keeps the stored one. ` +
          "Messages sent from now on use the new settings.",
        params: channelParams,
        body: channelConfigSchema,
        response: { 200: channelView },
      },
    },
    async (req) => {
      const view = await putChannel(deps.pool, req.workspace.id, req.params.channel, req.body, now());
      deps.channels.invalidate(req.workspace.id, req.params.channel);
      return view;
    },
  );
  r.get(
    "/api/v1/channels",
    {
      schema: {
        ...common,
        summary: "The configured channels, secrets redacted",
        response: { 200: z.object({ items: z.array(channelView) }) },
      },
    },
    async (req) => ({ items: await listChannels(deps.pool, req.workspace.id) }),
  );
  r.get(
    "/api/v1/channels/:channel",
    {
      schema: {
        ...common,
        summary: "One channel's provider and settings, secrets redacted",
        params: channelParams,
        response: { 200: channelView },
      },
    },
    async (req) => {
      const { channel } = req.params;
      const view = await getChannelPublic(deps.pool, req.workspace.id, channel);
      if (!view) {
        throw new NotFoundError(
          `the ${channel} channel is not configured; PUT /api/v1/channels/${channel} with {"provider": "${PROVIDERS_OF[channel][0]}", ...}`,
        );
      }
      return view;
    },
  );
}
