export {
  ALLOW_LIST_VARIABLE,
  checkDestination,
  forbiddenReason,
  parseAllowList,
  type AllowList,
  type Cidr,
  type DestinationCheck,
} from "./core/address.ts";
export {
  createOutboundClient,
  type OutboundClient,
  type OutboundClientOptions,
  type OutboundFailureKind,
  type OutboundRequest,
  type OutboundResult,
} from "./http.ts";
export type { ConnectResult } from "./tcp.ts";
