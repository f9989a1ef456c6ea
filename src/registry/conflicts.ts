/**
 * What a submission or the version claim says when a manifest names another owner than the
 * registered one (the owners are public: `GET /v1/models` lists them).
 */
export function modelOwnerConflictMessage(model: string, registeredOwner: string, claimedOwner: string): string {
  return `model ${model} is registered to owner ${registeredOwner}, not ${claimedOwner}; a manifest cannot change a model's owner (an admin can: PUT /v1/models/${model}/owner)`;
}

/** What a submission or the `registerSubmission` activity says when a version's digest would change. */
export function versionDigestConflictMessage(model: string, version: string, registeredDigest: string): string {
  return `${model}@${version} is registered with digest ${registeredDigest}; a version's artifact never changes (submit a new version)`;
}
