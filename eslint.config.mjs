// @ts-check
import { builtinModules } from 'node:module';
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', '.tools/', 'coverage/', 'test-artifacts/', '**/*.js', '**/*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic and bundle without Node. (zod is
    // allowed: the message table's schemas check a payload the same way in the API and the workflow.)
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts', 'src/policy/evaluate.ts', 'src/policy/resolved.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Node built-ins are not allowed in workflow code.' })),
            { name: 'pg', message: 'Database access belongs in activities.' },
            { name: 'express', message: 'HTTP belongs in src/api.' },
            { name: '@temporalio/client', message: 'Workflows use @temporalio/workflow.', allowTypeImports: true },
            { name: '@temporalio/worker', message: 'Workflows use @temporalio/workflow.', allowTypeImports: true },
            { name: '@temporalio/activity', message: 'Workflows use @temporalio/workflow.', allowTypeImports: true },
          ],
          patterns: [
            { group: ['../activities', '../activities/*', '../api/*', '../db/*', '../cli/*'], allowTypeImports: true, message: 'Workflow code may import only types from Node-side modules.' },
          ],
        },
      ],
    },
  },
);
