/**
 * The typed errors of the DeviceDriver contract (isa/device.ts), shared by every
 * target: the simulators and the hardware drivers import them from here, the bottom layer. Errors
 * peculiar to one target (an OpenCL status, a lost GPU) stay with that target. Messages start with
 * the target's name, so a runtime error says which device failed.
 */
import { VtaError } from './errors.ts';

/** A run did not finish within its timeout (or a work budget derived from it). */
export class RunTimeoutError extends VtaError {
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
    message: string,
  ) {
    super('VTA_TIMEOUT', `${target}: ${message}`);
  }
}

/** A copy outside the device buffer, an unaligned instruction address, or a bad memory size. */
export class DeviceRangeError extends VtaError {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super('VTA_DEVICE_RANGE', `${target}: ${message}`);
  }
}

/** An operation on a driver after its close(). */
export class DeviceClosedError extends VtaError {
  constructor(
    readonly target: string,
    what: string,
  ) {
    super('VTA_DEVICE_CLOSED', `${target}: ${what}: the device has been closed`);
  }
}

/** Throws DeviceRangeError unless [offset, offset + length) lies inside a `memBytes`-byte device buffer. */
export function checkDeviceRange(target: string, memBytes: number, what: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > memBytes) {
    throw new DeviceRangeError(target, `${what}: bytes [${offset}, ${offset + length}) fall outside the ${memBytes}-byte device memory`);
  }
}
