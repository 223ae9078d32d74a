/**
 * Getting a WebGPU device from Dawn (the `webgpu` package). Dawn loads the Vulkan loader
 * (libvulkan.so.1) at run time and finds drivers through it; on a machine without a GPU, the
 * SwiftShader driver of Debian's chromium package works when VK_ICD_FILENAMES names its ICD file.
 * When no adapter comes back, the error says what is missing, since Dawn itself only prints a
 * warning.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { WebGpuUnavailableError } from './errors.ts';

/** Where Debian's chromium package puts SwiftShader's Vulkan ICD. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The WebGPU globals Dawn provides (usage flags), without installing them on globalThis. */
export interface DawnGlobals {
  GPUBufferUsage: { STORAGE: number; COPY_SRC: number; COPY_DST: number; MAP_READ: number };
  GPUMapMode: { READ: number };
}

export interface Gpu {
  /** Dawn's instance: it must stay reachable while the device is in use (collecting it crashes the process). */
  instance: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  /** Vendor, architecture and description of the adapter, for logs and benchmark notes. */
  description: string;
  globals: DawnGlobals;
  /** WGSL's dot4I8Packed is available. */
  packedDot: boolean;
  /** A software adapter (SwiftShader) rather than a GPU. */
  software: boolean;
}

export interface GpuRequest {
  /** Bytes of the largest storage buffer binding needed. */
  maxBindingBytes: number;
  /** Flags for Dawn's `create` (e.g. `backend=vulkan`). */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
}

function vulkanLoaderFound(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean),
    '/lib/x86_64-linux-gnu',
    '/usr/lib/x86_64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/lib64',
    '/usr/lib64',
    '/lib',
    '/usr/lib',
    '/usr/local/lib',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** Why Dawn may have found no adapter, as advice for the error message. */
function diagnose(): string {
  if (process.platform !== 'linux') return 'Dawn found no adapter on this machine';
  const hints: string[] = [];
  if (!vulkanLoaderFound()) {
    hints.push(
      `the Vulkan loader libvulkan.so.1 was not found (Debian: apt-get install libvulkan1${existsSync('/usr/lib/chromium/libvulkan.so.1') ? ', or start node with LD_LIBRARY_PATH=/usr/lib/chromium' : ''})`,
    );
  }
  const icd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  if (icd === undefined) {
    hints.push(
      existsSync(SWIFTSHADER_ICD)
        ? `no Vulkan driver answered; without a GPU, set VK_ICD_FILENAMES=${SWIFTSHADER_ICD} (SwiftShader)`
        : 'no Vulkan driver answered; without a GPU, install Debian\'s chromium package and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (SwiftShader)',
    );
  } else if (!icd.split(delimiter).every((f) => existsSync(f))) {
    hints.push(`VK_ICD_FILENAMES/VK_DRIVER_FILES names a file that does not exist (${icd})`);
  } else {
    hints.push(`the Vulkan driver named by VK_ICD_FILENAMES/VK_DRIVER_FILES (${icd}) gave no usable adapter`);
  }
  return hints.join('; ');
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: unknown;
}

export async function openGpu(req: GpuRequest): Promise<Gpu> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new WebGpuUnavailableError(`the webgpu package (Dawn for Node) could not be loaded: ${(e as Error).message}`, { cause: e });
  }
  let gpu: GPU;
  let adapter: GPUAdapter | null;
  try {
    gpu = dawn.create(req.dawnFlags ?? []);
    adapter = await gpu.requestAdapter(req.powerPreference ? { powerPreference: req.powerPreference } : undefined);
  } catch (e) {
    throw new WebGpuUnavailableError(`Dawn failed while looking for an adapter: ${(e as Error).message}`, { cause: e });
  }
  if (!adapter) throw new WebGpuUnavailableError(`no WebGPU adapter found: ${diagnose()}`);
  const lim = adapter.limits;
  if (req.maxBindingBytes > lim.maxStorageBufferBindingSize || req.maxBindingBytes > lim.maxBufferSize) {
    throw new WebGpuUnavailableError(
      `the adapter binds storage buffers of at most ${Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize)} bytes; ${req.maxBindingBytes} are needed`,
    );
  }
  const info = adapter.info;
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown adapter';
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: Math.min(lim.maxStorageBufferBindingSize, Math.max(req.maxBindingBytes, 128 << 20)),
        maxBufferSize: Math.min(lim.maxBufferSize, Math.max(req.maxBindingBytes, 256 << 20)),
        maxStorageBuffersPerShaderStage: 6,
      },
    });
  } catch (e) {
    throw new WebGpuUnavailableError(`the adapter (${description}) refused a device: ${(e as Error).message}`, { cause: e });
  }
  return {
    instance: gpu,
    adapter,
    device,
    description,
    globals: dawn.globals as DawnGlobals,
    packedDot: gpu.wgslLanguageFeatures.has('packed_4x8_integer_dot_product'),
    software: info.isFallbackAdapter || info.architecture === 'swiftshader',
  };
}
