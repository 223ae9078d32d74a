/**
 * Loads the OpenCL host addon (hw-opencl/native/addon.cc, built by `npm run build:opencl`) and
 * turns its failures into typed errors. Every native OpenCL failure carries the OpenCL error name.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { OpenClError, OpenClUnavailableError } from './errors.ts';

export interface NativeDeviceInfo {
  name: string;
  type: 'accelerator' | 'gpu' | 'cpu' | 'other';
  globalMemBytes: number;
  maxAllocBytes: number;
}

export interface NativePlatformInfo {
  name: string;
  vendor: string;
  version: string;
  devices: NativeDeviceInfo[];
}

export interface NativeRunResult {
  /** The core's status words (see VTA_STATUS_* in src/vta.cl). */
  status: number[];
  /** Kernel execution time from OpenCL profiling, or null where the platform gives none. */
  kernelNs: number | null;
}

export interface NativeDevice {
  info(): {
    platform: string;
    platformVersion: string;
    device: string;
    deviceVersion: string;
    type: string;
    maxAllocBytes: number;
    localMemBytes: number;
  };
  buildSource(source: string, options: string, kernelName: string): Promise<void>;
  buildBinary(binary: Uint8Array, options: string, kernelName: string): Promise<void>;
  /** The device binary of the built program, loadable with buildBinary. */
  programBinary(): Uint8Array;
  createBuffer(bytes: number): number;
  releaseBuffer(handle: number): void;
  write(handle: number, offset: number, data: Uint8Array): Promise<void>;
  read(handle: number, offset: number, length: number): Promise<Uint8Array>;
  run(handle: number, insnIndex: number, insnCount: number, budget: number): Promise<NativeRunResult>;
  /** Diagnostic: the next run's kernel runs, then its command reports `status` (a negative OpenCL code). */
  failNextRun(status: number): void;
  release(): void;
}

interface NativeModule {
  platforms(): NativePlatformInfo[];
  Device: new (platformIndex: number, deviceIndex: number) => NativeDevice;
}

export const ADDON_PATH = fileURLToPath(new URL('./build/Release/vta_ocl.node', import.meta.url));

let loaded: NativeModule | undefined;

export function nativeModule(): NativeModule {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    throw new OpenClUnavailableError(`the OpenCL addon ${ADDON_PATH} is not built: run \`npm run build:opencl\``);
  }
  try {
    loaded = createRequire(import.meta.url)(ADDON_PATH) as NativeModule;
  } catch (e) {
    throw new OpenClUnavailableError(`cannot load the OpenCL addon ${ADDON_PATH}: ${(e as Error).message}`, { cause: e });
  }
  return loaded;
}

/** Rethrows a native OpenCL failure as OpenClError; anything else passes through unchanged. */
export function toOpenClError(e: unknown, context: string): unknown {
  if (e instanceof Error && typeof (e as { clName?: unknown }).clName === 'string') {
    const n = e as Error & { clName: string; clCode: number; clCall: string; buildLog?: string };
    return new OpenClError(n.clName, n.clCode, n.clCall, `${context}: ${n.message}`, n.buildLog);
  }
  return e;
}

/** Calls a native method, converting OpenCL failures (thrown or rejected). */
export async function cl<T>(context: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toOpenClError(e, context);
  }
}

export function clSync<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toOpenClError(e, context);
  }
}
