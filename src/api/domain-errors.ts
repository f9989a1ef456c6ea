// The domain's errors as the API answers them: routes throw what went wrong in the domain's
// words (a conflicting digest, a refused Update, a workflow Temporal does not know) and the
// error middleware (src/api/errors.ts) translates them here, once.
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { PolicyRefusal } from '../policy/resolve';
import { ModelOwnerConflict, PromotionConflict, SubmitterRefusal, VersionDigestConflict } from '../promotions/start';
import { RegistryDisagreement } from '../registry';
import { MlflowError } from '../sources/mlflow';
import type { ApiErrorCode } from './errors';
import { apiCodeOfRefusal } from './message-refusals';

/** A message or report sent to a promotion that has ended (Temporal holds it closed): 409. */
export class PromotionEnded extends Error {
  constructor(
    readonly promotionId: string,
    /** Its final status, when known. */
    readonly status?: string,
    /** What it accepts no more of (`messages`, `reports`). */
    readonly what: 'messages' | 'reports' = 'messages',
  ) {
    super(
      what === 'reports'
        ? `promotion ${promotionId} has ended; it takes no more reports`
        : `promotion ${promotionId} has ended${status ? ` (${status})` : ''}; it accepts no more messages`,
    );
    this.name = 'PromotionEnded';
  }
}

/** A model's environment that has no lifecycle workflow: nothing was deployed there: 404. */
export class LifecycleNotFound extends Error {
  constructor(
    readonly model: string,
    readonly environment: string,
  ) {
    super(`${model} in ${environment} has no lifecycle yet: nothing was deployed there through Modelgate`);
    this.name = 'LifecycleNotFound';
  }
}

/** A deployer's report the promotion refused (another deployment, a malformed status): 409. */
export class DeploymentReportRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'DeploymentReportRefused';
  }
}

/** How the API answers a domain error: its code, message and details. */
export interface DomainAnswer {
  code: ApiErrorCode;
  message: string;
  details?: unknown;
}

/**
 * A refused Update (of a promotion or of an environment's lifecycle) as the API answers it: the
 * refusal's code and the workflow's reason; `undefined` for any other error, including an Update
 * that failed otherwise (a failure of the workflow's code: a 500).
 */
export function updateRefusalOf(err: unknown): DomainAnswer | undefined {
  if (!(err instanceof WorkflowUpdateFailedError) || !(err.cause instanceof ApplicationFailure)) return undefined;
  const code = apiCodeOfRefusal(err.cause.type ?? undefined);
  return code ? { code, message: err.cause.message } : undefined;
}

/** How the API answers a domain error, or `undefined` when `err` is none of them. */
export function domainAnswerOf(err: unknown): DomainAnswer | undefined {
  if (err instanceof PolicyRefusal) {
    return { code: 'refused_by_policy', message: err.message, ...(err.path ? { details: { problems: [{ path: err.path, message: err.message }] } } : {}) };
  }
  if (err instanceof VersionDigestConflict) {
    return {
      code: 'conflict',
      message: err.message,
      details: { problems: [{ path: 'artifact.sha256', message: `differs from the registered digest ${err.registeredDigest}` }] },
    };
  }
  if (err instanceof ModelOwnerConflict) {
    return { code: 'conflict', message: err.message, details: { problems: [{ path: 'model.owner', message: `differs from the registered owner ${err.registeredOwner}` }] } };
  }
  if (err instanceof PromotionConflict) return { code: 'conflict', message: err.message, details: { promotionId: err.promotionId } };
  if (err instanceof SubmitterRefusal) return { code: 'forbidden', message: err.message };
  if (err instanceof PromotionEnded) return { code: 'conflict', message: err.message };
  if (err instanceof DeploymentReportRefused) return { code: 'conflict', message: err.message };
  if (err instanceof LifecycleNotFound) return { code: 'not_found', message: err.message };
  // An environment's registry of record that PostgreSQL does not confirm, or cannot be asked.
  if (err instanceof RegistryDisagreement) {
    const { kind, environment, version } = err.detail;
    return { code: 'conflict', message: `the registry of record of ${environment} disagrees with Modelgate: ${err.message}`, details: { kind, environment, ...(version ? { version } : {}) } };
  }
  if (err instanceof MlflowError && err.code === 'unavailable') return { code: 'not_ready', message: `the registry of record cannot be read now: ${err.message}` };
  // A workflow Temporal does not know: the routes of lifecycles say LifecycleNotFound, so a promotion.
  if (err instanceof WorkflowNotFoundError) return { code: 'not_found', message: `no promotion ${err.workflowId}` };
  return updateRefusalOf(err);
}
