export { profileStage } from "./stage.ts";
export {
  getProfile,
  findProfiles,
  profileEvents,
  resolveProfileId,
  type Profile,
  type ProfileQuery,
} from "./read.ts";
export { applyEvent, absorbProfile, type ProfileState } from "./core/apply.ts";
