/** The typed errors of the intelfocl target (all `VtaError`s with a stable `code`). */
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

/** A run did not finish within its timeout (or its work budget, derived from the timeout). */
export class RunTimeoutError extends VtaError {
  constructor(
    readonly timeoutMs: number,
    message: string,
  ) {
    super('VTA_TIMEOUT', message);
  }
}

/** A copy outside the device buffer, or an unaligned instruction address. */
export class DeviceRangeError extends VtaError {
  constructor(message: string) {
    super('VTA_DEVICE_RANGE', message);
  }
}

/** The driver was closed. */
export class DeviceClosedError extends VtaError {
  constructor(what: string) {
    super('VTA_DEVICE_CLOSED', `${what}: the intelfocl device has been closed`);
  }
}
