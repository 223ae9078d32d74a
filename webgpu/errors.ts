/** The typed errors of the webgpu target (all `VtaError`s with a stable `code`). */
import { VtaError } from '../isa/errors.ts';

/**
 * No WebGPU adapter could be had: the `webgpu` package (Dawn) did not load, or Dawn found no
 * adapter (no Vulkan loader, no Vulkan driver). The message says which and what to install or set.
 */
export class WebGpuUnavailableError extends VtaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VTA_WEBGPU_UNAVAILABLE', `webgpu: ${message}`, options);
  }
}

/** The GPU reported an error (validation, out of memory, lost device, a shader that failed to build). */
export class WebGpuError extends VtaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VTA_WEBGPU', `webgpu: ${message}`, options);
  }
}

/** A run did not finish within its timeout. */
export class RunTimeoutError extends VtaError {
  constructor(
    readonly timeoutMs: number,
    message: string,
  ) {
    super('VTA_TIMEOUT', `webgpu: ${message}`);
  }
}

/** A copy outside the device buffer, an unaligned instruction address, or a bad argument. */
export class DeviceRangeError extends VtaError {
  constructor(message: string) {
    super('VTA_DEVICE_RANGE', `webgpu: ${message}`);
  }
}

/** The driver was closed. */
export class DeviceClosedError extends VtaError {
  constructor(what: string) {
    super('VTA_DEVICE_CLOSED', `webgpu: ${what}: the device has been closed`);
  }
}
