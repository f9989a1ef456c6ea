// The model registry: the one module that reads and writes the registry's tables.

export type * from './port';
export { createPgRegistry } from './pg';
export { modelOwnerConflictMessage, versionDigestConflictMessage } from './conflicts';
export { createSubmissionRegistration, createVersionDigests } from './versions';
export { REGISTRY_DISAGREEMENT_KINDS, RegistryDisagreement, type RegistryDisagreementDetail } from './disagreement';
export { createMlflowRecordRegistry, type MlflowRecordDeps } from './mlflow-record';
export { createRegistryOfRecord, type RegistryOfRecord, type RegistryOfRecordDeps } from './record';
