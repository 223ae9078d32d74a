/** The ISA library: configuration, instruction and micro-op codec, assembler, validation, scheduling. */
export * from './config.ts';
export * from './errors.ts';
export * from './layout.ts';
export * from './types.ts';
export * from './codec.ts';
export * from './validate.ts';
export * from './schedule.ts';
export * from './image.ts';
export * from './asm.ts';
