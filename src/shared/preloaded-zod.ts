// The module through which every workflow of a worker shares zod: the workflow bundle evaluates it once,
// when the worker's V8 context starts (the SDK's `preloadModules`), and with it zod, which would
// otherwise be evaluated anew for each workflow the worker creates or replays. The SDK then freezes
// everything this evaluation reached, so nothing in it may be written later. zod writes three
// things on first use rather than when it loads: its default locale and memoizer (on the first
// schema built) and whether it may compile parsers with `new Function` (on the first object
// parsed). The warm-up below makes those writes here, before the freeze; the schema it builds is not
// exported, so it is neither frozen nor shared.
import { z } from 'zod';

const warmUp = z
  .object({
    text: z.string().regex(/^[a-z]+$/).max(8).optional(),
    count: z.number().int().nonnegative().default(0),
    kind: z.enum(['a', 'b']),
    list: z.array(z.union([z.literal(1), z.null()])),
    map: z.record(z.string(), z.boolean()),
    choice: z.discriminatedUnion('k', [z.object({ k: z.literal('x') }), z.object({ k: z.literal('y'), v: z.string() })]),
  })
  .strict();

/** True once zod's first-use writes are made (see above); the bundle's preload evaluates it. */
export const zodWarmedUp: boolean =
  warmUp.safeParse({ text: 'ok', kind: 'a', list: [1, null], map: { x: true }, choice: { k: 'y', v: 'v' } }).success &&
  !warmUp.safeParse({ kind: 'c', list: [2], map: {}, choice: { k: 'z' }, extra: 1 }).success &&
  typeof z.core.util.allowsEval.value === 'boolean';
