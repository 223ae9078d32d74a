/** Lowering of layers to VTA instruction streams and micro-op tables, with schedule search. */
export * from './layers.ts';
export * from './pack.ts';
export * from './queue.ts';
export * from './program.ts';
export * from './conv.ts';
export * from './eltwise.ts';
export * from './tiling.ts';
export * from './search.ts';
