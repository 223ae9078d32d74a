import { VtaError } from '../../isa/errors.ts';

/** An IR node whose operands or attributes do not type-check. */
export class TypeInferenceError extends VtaError {
  constructor(readonly op: string, message: string) {
    super('VTA_IR_TYPE', `${op}: ${message}`);
  }
}
