// The task queues of one Modelgate deployment. Pure: the workflow derives the checks queue from
// its own task queue, so the two can never disagree and no setting has to reach workflow code.

/** Suffix that turns a promotions task queue into its checks task queue. */
export const CHECKS_TASK_QUEUE_SUFFIX = '-checks';

/**
 * The task queue of the check activities that read artifacts (integrity, security, performance,
 * fairness, …) for promotions on `promotionsTaskQueue`: `<promotionsTaskQueue>-checks`, polled by
 * the checks worker (`WORKER_ROLE=checks` or `all`).
 */
export function checksTaskQueueOf(promotionsTaskQueue: string): string {
  return `${promotionsTaskQueue}${CHECKS_TASK_QUEUE_SUFFIX}`;
}
