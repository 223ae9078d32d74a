/**
 * The base of every error the toolchain throws on purpose. `code` is stable and
 * machine-readable; `message` names the input and the problem so a CLI can print
 * it alone, without a stack trace.
 */
export class VtaError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An impossible or unsupported hardware configuration. */
export class ConfigError extends VtaError {
  constructor(readonly parameter: string, message: string) {
    super('VTA_CONFIG', `${parameter}: ${message}`);
  }
}

/** A field value that does not fit the instruction or micro-op layout. */
export class EncodeError extends VtaError {
  constructor(
    readonly field: string,
    readonly value: number,
    readonly min: number,
    readonly max: number,
    context = '',
  ) {
    super(
      'VTA_ENCODE',
      `${context ? `${context}: ` : ''}field ${field}=${value} is out of range [${min}, ${max}]`,
    );
  }
}

/** Bytes that are not a valid instruction or micro-op. */
export class DecodeError extends VtaError {
  constructor(readonly index: number, message: string) {
    super('VTA_DECODE', `instruction ${index}: ${message}`);
  }
}

/** A text assembly error, with its line. */
export class AsmError extends VtaError {
  constructor(readonly source: string, readonly line: number, message: string) {
    super('VTA_ASM', `${source}:${line}: ${message}`);
  }
}

/** A program that would do something illegal (out-of-range SRAM or DRAM access, no FINISH...). */
export class ProgramError extends VtaError {
  constructor(readonly index: number, message: string) {
    super('VTA_PROGRAM', index >= 0 ? `instruction ${index}: ${message}` : message);
  }
}

/** Dependency tokens that can never be satisfied. */
export class DeadlockError extends VtaError {
  constructor(
    readonly module: string,
    readonly index: number,
    readonly queue: string,
    readonly state: 'empty' | 'full',
  ) {
    super(
      'VTA_DEADLOCK',
      `deadlock: the ${module} module is blocked at instruction ${index}: the ${queue} queue is ${state} and nothing can ${state === 'empty' ? 'fill' : 'drain'} it`,
    );
  }
}
