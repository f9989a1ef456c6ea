// `modelgate rollback | drift`: the API's commands on a model's environment.
import type { Command } from 'commander';
import { ApiExitCode, apiTarget, callApi } from './api-client';
import { type CommonFlags, out, runCommand, withCommon } from './api-command';

/** Registers `rollback` and `drift` on `program`; `setExitCode` receives the outcome of a command. */
export function registerEnvironmentCommands(program: Command, setExitCode: (code: number) => void): void {
  const environmentPath = (model: string, environment: string, action: string) =>
    `/v1/models/${encodeURIComponent(model)}/environments/${encodeURIComponent(environment)}/${action}`;

  withCommon(program.command('rollback <model> <environment>'))
    .description('roll an environment back to an earlier approved version (override role, justification)')
    .requiredOption('--justification <text>', 'why (recorded in the audit)')
    .option('--to-version <version>', 'the earlier version (default: the latest earlier one with a valid approval)')
    .option('--request-id <id>', 'idempotency key')
    .action((model: string, environment: string, flags: CommonFlags & { justification: string; toVersion?: string; requestId?: string }) =>
      runCommand(setExitCode, flags, async () => {
        const body = Object.fromEntries(
          Object.entries({ justification: flags.justification, toVersion: flags.toVersion, requestId: flags.requestId }).filter(([, v]) => v !== undefined),
        );
        const result = await callApi<{ status: string; detail?: string; rollbackId?: string }>(
          apiTarget(flags),
          'POST',
          environmentPath(model, environment, 'rollback'),
          body,
          { timeoutMs: 60_000 },
        );
        out(flags.json ? `${JSON.stringify(result)}\n` : `${result.rollbackId ?? ''} ${result.status}: ${result.detail ?? ''}\n`);
        return result.status === 'failed' ? ApiExitCode.failed : ApiExitCode.ok;
      }),
    );

  withCommon(program.command('drift <model> <environment>'))
    .description('report drift: re-certify the version serving the environment now')
    .requiredOption('--reason <text>', 'what monitoring saw')
    .option('--request-id <id>', 'idempotency key')
    .action((model: string, environment: string, flags: CommonFlags & { reason: string; requestId?: string }) =>
      runCommand(setExitCode, flags, async () => {
        const body = Object.fromEntries(Object.entries({ reason: flags.reason, requestId: flags.requestId }).filter(([, v]) => v !== undefined));
        const result = await callApi<{ promotionId: string }>(apiTarget(flags), 'POST', environmentPath(model, environment, 'drift'), body);
        out(flags.json ? `${JSON.stringify(result)}\n` : `re-certification started: ${result.promotionId}\n`);
        return ApiExitCode.ok;
      }),
    );
}
