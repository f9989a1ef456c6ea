// @ts-check
import { builtinModules } from 'node:module';
import eslint from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/*
 * Layers: an import points down, never up (`boundaries/dependencies` below). Bottom to top:
 *
 *   0 manifest    src/manifest        the manifest schema (zod only)
 *   1 shared      src/shared          pure and workflow-safe: no Node, no I/O
 *   2 policy      src/policy          policies, their `checks:` settings, their evaluation
 *   3 db          src/db              pool, migrations, transactions
 *     sources     src/sources         reading manifests' sources
 *   4 registry    src/registry        every statement on the model registry's tables
 *     audit       src/audit           the hash chain and its archive
 *     metrics     src/metrics         recorded durations
 *     process     src/*.ts            configuration, logging, startup, Temporal connection
 *   5 checks, deployment, evidence, governance
 *   6 promotions  src/promotions      starting promotions, review queues
 *   7 activities  src/activities
 *   8 workflows   src/workflows       shared, manifest and policy; only *types* of activities
 *   9 api         src/api
 *  10 cli         src/cli             (signs dev tokens with the API's signer)
 *     entry       src/worker.ts, src/bundle-workflows.ts, src/api/server.ts: the top, import any layer
 *     web         web/src             the dashboard: shared and policy; only *types* of the API's schemas
 *
 * An element imports its own files and any element of a lower rank. Type-only imports are
 * allowed upward where they are listed below (`dependency: { kind: 'type' }`): a type is erased
 * when compiled, so it adds no runtime edge, and the types it names are inferred from the zod
 * schemas of the layer above, which belong there (moving the types down would move the schemas
 * with them). That is why `shared` may
 * import types of `policy` (the promotion state names the resolved policy), `workflows` types of
 * `activities`, and `web` types of `api` (the responses it renders). `manifest` is the bottom
 * layer, under `shared`: it imports nothing but zod, and the message table of `shared` validates
 * revisions with its schema in the API and the workflow alike.
 */
const LAYERS = [
  ['manifest'],
  ['shared'],
  ['policy'],
  ['db', 'sources'],
  ['registry', 'audit', 'metrics', 'process'],
  ['checks', 'deployment', 'evidence', 'governance'],
  ['promotions'],
  ['activities'],
  ['workflows'],
  ['api'],
  ['cli'],
];
/** Element types below `type`'s layer. */
const below = (type) => LAYERS.slice(0, LAYERS.findIndex((layer) => layer.includes(type))).flat();
/** Element types that import only what is listed here, not everything below them. */
const RESTRICTED = {
  workflows: { values: ['shared', 'manifest', 'policy'], types: ['activities'] },
  web: { values: ['shared', 'policy'], types: ['api'] },
  shared: { values: ['manifest'], types: ['policy'] },
};
const layerPolicies = [
  { from: { file: { categories: 'entry' } }, allow: { to: { element: { types: LAYERS.flat() } } } },
  ...LAYERS.flat()
    .filter((type) => !(type in RESTRICTED))
    .map((type) => ({ from: { element: { type } }, allow: { to: { element: { types: below(type) } } } })),
  ...Object.entries(RESTRICTED).flatMap(([type, { values, types }]) => [
    { from: { element: { type } }, allow: { to: { element: { types: values } } } },
    { from: { element: { type } }, allow: { to: { element: { types } }, dependency: { kind: 'type' } } },
  ]),
];

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
    files: ['src/**/*.ts', 'web/src/**/*.ts', 'web/src/**/*.tsx'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.tsx', '.js'] } },
      // First match wins: a folder of src before src itself, whose own files are `process`.
      'boundaries/elements': [
        ...['shared', 'manifest', 'policy', 'db', 'sources', 'registry', 'audit', 'metrics', 'checks', 'deployment', 'evidence', 'governance', 'promotions', 'activities', 'workflows', 'api', 'cli'].map((type) => ({
          type,
          pattern: `src/${type}`,
          partialMatch: false,
        })),
        { type: 'process', pattern: 'src', partialMatch: false },
        { type: 'web', pattern: 'web/src', partialMatch: false },
      ],
      // The entry points are files of `process` and `api`, and import from every layer.
      'boundaries/files': [{ category: 'entry', pattern: ['src/worker.ts', 'src/bundle-workflows.ts', 'src/api/server.ts'] }],
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', policies: layerPolicies }],
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic and bundle without Node. (zod is
    // allowed: the message table's schemas check a payload the same way in the API and the workflow.)
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts', 'src/manifest/**/*.ts', 'src/policy/evaluate.ts', 'src/policy/resolved.ts'],
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
