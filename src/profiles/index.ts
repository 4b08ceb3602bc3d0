export { profileStage } from "./stage.ts";
export {
  getProfile,
  findProfiles,
  profileEvents,
  resolveProfileId,
  type Profile,
  type ProfileQuery,
  type Queryable,
} from "./read.ts";
export { applyEvent, absorbProfile, type ProfileState } from "./core/apply.ts";
export { lookupProfileId, profileIdOfRef } from "./lookup.ts";
export { exportPerson, type PersonExport } from "./export.ts";
export { erasePerson, type Erasure, type ErasureCounts, type SuppressionCache } from "./erase.ts";
export { SuppressionList, suppressionHash, type Screened, type SuppressionOptions } from "./suppression.ts";
export { listErasures, type ErasureLog } from "./erasures.ts";
