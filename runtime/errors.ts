import { VtaError } from '../isa/errors.ts';

/** An input that does not match the model: unknown or missing name, wrong shape or dtype. */
export class InputError extends VtaError {
  constructor(readonly input: string, message: string) {
    super('VTA_INPUT', `input '${input}': ${message}`);
  }
}

/** A target that cannot be used here (unknown name, missing native part, no adapter...). */
export class TargetError extends VtaError {
  constructor(readonly target: string, message: string, options?: { cause?: unknown }) {
    super('VTA_TARGET', `target ${target}: ${message}`, options);
  }
}

/** A runtime object used after close(). */
export class ClosedError extends VtaError {
  constructor(what: string) {
    super('VTA_CLOSED', `${what} is closed`);
  }
}

/** A model that cannot be laid out on the device (e.g. a layer stream larger than a device run allows). */
export class ModelLoadError extends VtaError {
  constructor(readonly model: string, message: string) {
    super('VTA_MODEL_LOAD', `${model}: ${message}`);
  }
}
