/**
 * The typed errors peculiar to the webgpu target (all `VtaError`s with a stable `code`); those
 * every driver shares (timeout, range, closed) are in isa/device-errors.ts.
 */
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
