import { proxyActivities } from '@temporalio/workflow';
import type { Activities, StackDescription } from '../activities';

const { describeStack } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/**
 * Round trip through the whole stack: client → Temporal → worker → PostgreSQL.
 * Used by `modelgate doctor` and the foundation tests.
 */
export async function StackSelfTestWorkflow(): Promise<StackDescription> {
  return await describeStack();
}
