export {
  ALLOW_LIST_VARIABLE,
  checkDestination,
  forbiddenReason,
  parseAllowList,
  type AllowList,
  type Cidr,
  type DestinationCheck,
} from "./core/address.ts";
