// Kept while the controller moves to the planner's own digests; planChanges now adds them itself.
export { withSpecDigests } from '../plan/spec-digests.js';
