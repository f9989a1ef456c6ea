// The policy engine: schema, loading, resolution for a manifest, and evaluation.
export * from './schema';
export * from './load';
export * from './resolve';
export type * from './resolved';
export * from './registry-records';
