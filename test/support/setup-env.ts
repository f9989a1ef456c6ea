import { DefaultLogger, Runtime } from '@temporalio/worker';

// Quiet logs in tests unless asked for (LOG_LEVEL=info ./scripts/test.sh).
process.env.LOG_LEVEL ??= 'warn';
Runtime.install({ logger: new DefaultLogger(process.env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });
