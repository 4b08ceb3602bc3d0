export { CHANNELS, type Channel, type ChannelKind, type OutgoingMessage, type SendResult } from "./core/channel.ts";
export { acceptJourneyMessages, enqueueSend, type SendRequest } from "./queue.ts";
export { getMessage, listMessages, recordEngagement, retryMessage, type MessageView } from "./messages.ts";
export { MessagingWorker, type MessagingWorkerOptions } from "./worker.ts";
export {
  MESSAGE_LIMITS,
  checkMessage,
  emailContentSchema,
  pushContentSchema,
  renderMessage,
  smsContentSchema,
  templateContentSchema,
  webhookContentSchema,
  type MessageLinks,
  type RenderScope,
  type RenderedMessage,
  type TemplateContent,
} from "./core/render.ts";
export {
  TEMPLATE_KEY,
  describeTemplate,
  getTemplate,
  listTemplates,
  previewTemplate,
  putTemplate,
  validateTemplate,
  type PreviewRequest,
  type TemplateSummary,
  type TemplateVersion,
} from "./templates.ts";
