import { VtaError } from '../../isa/errors.ts';

/** A graph the CPU executor cannot run as given: wrong inputs, an op without a kernel, bad runtime data. */
export class ExecutionError extends VtaError {
  constructor(readonly op: string, message: string) {
    super('VTA_EXEC', `${op}: ${message}`);
  }
}
