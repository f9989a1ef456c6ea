import { Command, CommanderError } from 'commander';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { loadConfig } from '../config';
import { connectTemporalClient } from '../temporal-client';
import { ClientCredentialsTokenSource } from '../temporal-credentials';
import { registerAuditCommands } from './audit-commands';
import { registerCheckCommands } from './check-commands';
import { registerEvidenceCommands } from './evidence-commands';
import { registerLoginCommands } from './login-commands';
import { registerMlflowCommands } from './mlflow-commands';
import { registerPolicyCommands } from './policy-commands';
import { registerPromotionCommands } from './promotion-commands';

/** Exit codes scripts can rely on. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** Builds the `modelgate` command tree; `setExitCode` receives the outcome of a command. */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('modelgate')
    .description('Governed, auditable promotion of machine-learning models')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('doctor')
    .description('round trip through the stack: Temporal, a worker and PostgreSQL')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const client = await connectTemporalClient(config);
      try {
        const result = await client.workflow.execute('StackSelfTestWorkflow', {
          taskQueue: config.temporal.taskQueue,
          workflowId: `stack-self-test:${Date.now()}`,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          workflowExecutionTimeout: '30 seconds',
          args: [],
        });
        process.stdout.write(
          opts.json ? `${JSON.stringify(result)}\n` : `stack ok: ${JSON.stringify(result)}\n`,
        );
        setExitCode(ExitCode.ok);
      } finally {
        await client.connection.close();
      }
    });

  program
    .command('temporal-token')
    .description(
      "print a token for Temporal's authorizer from the TEMPORAL_TOKEN_URL client (client credentials), " +
        'e.g. TEMPORAL_API_KEY="$(modelgate temporal-token)" temporal operator …',
    )
    .action(async () => {
      const { token } = loadConfig().temporal;
      if (!token) throw new Error('set TEMPORAL_TOKEN_URL, TEMPORAL_CLIENT_ID and TEMPORAL_CLIENT_SECRET_FILE (the client whose token to print)');
      const tokens = new ClientCredentialsTokenSource(token);
      try {
        process.stdout.write(`${await tokens.start()}\n`);
      } finally {
        tokens.stop();
      }
      setExitCode(ExitCode.ok);
    });

  registerCheckCommands(program, setExitCode);
  registerPromotionCommands(program, setExitCode);
  registerPolicyCommands(program, setExitCode);
  registerEvidenceCommands(program, setExitCode);
  registerLoginCommands(program, setExitCode);
  registerAuditCommands(program, setExitCode);
  registerMlflowCommands(program, setExitCode);

  return program;
}

/** Runs the CLI with `argv` (as in `process.argv`) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    process.stderr.write(`modelgate: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.failed;
  }
}
