export { CHANNELS, type Channel, type ChannelKind, type OutgoingMessage, type SendResult } from "./core/channel.ts";
export { acceptJourneyMessages, enqueueSend, type SendRequest } from "./queue.ts";
export { getMessage, listMessages, recordEngagement, retryMessage, type MessageView } from "./messages.ts";
export { MessagingWorker, type MessagingWorkerOptions } from "./worker.ts";
