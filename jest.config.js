/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testTimeout: 60_000,
  maxWorkers: 2,
  // A fresh worker process for every test file: a Temporal client that a suite closed while one of
  // its calls waited to retry would otherwise throw "Channel has been shut down" in the next suite.
  workerIdleMemoryLimit: '1MB',
  // Tests that talk to Temporal and PostgreSQL get their addresses from scripts/test.sh.
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
};
