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
  // Tests that talk to Temporal and PostgreSQL get their addresses from scripts/test.sh.
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
};
