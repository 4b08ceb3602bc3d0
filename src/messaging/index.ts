export {
  CHANNELS,
  type Channel,
  type ChannelKind,
  type OutgoingMessage,
  type SendResult,
} from "./core/channel.ts";
export { acceptJourneyMessages, enqueueSend, type SendRequest } from "./queue.ts";
export { getMessage, listMessages, recordEngagement, retryMessage, type MessageView } from "./messages.ts";
export { MessagingWorker, type MessagingWorkerOptions } from "./worker.ts";
export {
  DEFAULT_POLICY,
  POLICY_CHANNELS,
  capWindowStart,
  decideDelivery,
  deliveryPolicySchema,
  orderByPriority,
  priorityOf,
  type DeliveryDecision,
  type DeliveryInput,
  type DeliveryPolicy,
} from "./core/policy.ts";
export {
  CONSENT_CHANNELS,
  SUPPRESSION_REASONS,
  addressHash,
  deleteTopic,
  getDeliveryPolicy,
  getSubscriptions,
  getTopic,
  isSuppressed,
  listSuppressions,
  listTopics,
  normaliseAddress,
  putDeliveryPolicy,
  putTopic,
  setSubscriptions,
  subscriptionInputSchema,
  suppress,
  topicInputSchema,
  topicKeySchema,
  unsuppress,
  type Subscription,
  type Suppression,
  type Topic,
} from "./consent.ts";
export { consentInputs, consentInputsFor, decideMessages, type ConsentInputs } from "./decide.ts";
export { linkUrls, signToken, tokenWorkspace, verifyToken, type LinkPayload } from "./links.ts";
export {
  openLink,
  preferencesOf,
  savePreferences,
  topicNameOf,
  unsubscribeByLink,
  type LinkContext,
} from "./preferences.ts";
export {
  confirmUnsubscribePage,
  errorPage,
  linkNotFoundPage,
  preferencePage,
  unsubscribedPage,
} from "./core/pages.ts";
export { subscriptionStage, choicesFromTraits } from "./subscription-stage.ts";
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
  previewContent,
  previewTemplate,
  putTemplate,
  validateTemplate,
  type PreviewRequest,
  type TemplateSummary,
  type TemplateVersion,
} from "./templates.ts";
export {
  ChannelRegistry,
  PROVIDERS_OF,
  channelConfigSchema,
  getChannelPublic,
  listChannels,
  putChannel,
  webhookSecretOf,
  type ChannelRegistryOptions,
  type ChannelView,
} from "./channels/registry.ts";
export { SMTP_MAX_CONNECTIONS } from "./channels/smtp.ts";
