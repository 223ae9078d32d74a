/**
 * The typed errors peculiar to the intelfocl target (all `VtaError`s with a stable `code`); those
 * every driver shares (timeout, range, closed) are in isa/device-errors.ts.
 */
import { VtaError } from '../isa/errors.ts';

/** An OpenCL call failed; `clName` is the OpenCL status name, e.g. CL_OUT_OF_RESOURCES. */
export class OpenClError extends VtaError {
  constructor(
    readonly clName: string,
    readonly clCode: number,
    readonly clCall: string,
    message: string,
    /** The compiler's log, for a failed program build. */
    readonly buildLog?: string,
  ) {
    super('VTA_OPENCL', message);
  }
}

/** The addon is not built or cannot be loaded (for instance, no OpenCL ICD loader). */
export class OpenClUnavailableError extends VtaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VTA_OPENCL_UNAVAILABLE', message, options);
  }
}

/** No OpenCL platform matches the request, or none has a usable device. */
export class PlatformNotFoundError extends VtaError {
  constructor(message: string) {
    super('VTA_OPENCL_PLATFORM', message);
  }
}
