/**
 * Which OpenCL platform and device the intelfocl target uses: the one the user names (a substring
 * of the platform name), else Intel's FPGA platform, else any platform with a device (POCL here).
 * The candidates come in preference order; the driver takes the first on which a context opens,
 * as VTA's oclfpga driver does.
 */
import { PlatformNotFoundError } from './errors.ts';
import type { NativePlatformInfo } from './native.ts';

/** The name of Intel's FPGA SDK platform (hardware and, with the legacy emulator, emulation). */
export const INTEL_FPGA_PLATFORM = 'Intel(R) FPGA SDK for OpenCL(TM)';

export interface PlatformCandidate {
  platformIndex: number;
  deviceIndex: number;
  platformName: string;
  deviceName: string;
  intelFpga: boolean;
}

export function isIntelFpgaPlatform(name: string): boolean {
  return name.includes(INTEL_FPGA_PLATFORM);
}

export function platformCandidates(platforms: readonly NativePlatformInfo[], wanted?: string, device?: number): PlatformCandidate[] {
  const listing = platforms.length
    ? platforms.map((p) => `"${p.name}" (${p.devices.length} device${p.devices.length === 1 ? '' : 's'})`).join(', ')
    : 'none';
  let chosen = platforms.map((p, i) => ({ p, i }));
  if (wanted !== undefined && wanted !== '') {
    const w = wanted.toLowerCase();
    chosen = chosen.filter(({ p }) => p.name.toLowerCase().includes(w));
    if (chosen.length === 0) throw new PlatformNotFoundError(`no OpenCL platform name contains "${wanted}" (platforms: ${listing})`);
  } else {
    // Intel's FPGA platform first, then the others in the ICD loader's order.
    chosen.sort((a, b) => Number(isIntelFpgaPlatform(b.p.name)) - Number(isIntelFpgaPlatform(a.p.name)) || a.i - b.i);
  }
  const out: PlatformCandidate[] = [];
  for (const { p, i } of chosen) {
    p.devices.forEach((d, j) => {
      if (device === undefined || device === j) {
        out.push({ platformIndex: i, deviceIndex: j, platformName: p.name, deviceName: d.name, intelFpga: isIntelFpgaPlatform(p.name) });
      }
    });
  }
  if (out.length === 0) {
    throw new PlatformNotFoundError(
      `no OpenCL device${device === undefined ? '' : ` with index ${device}`} on ${wanted ? `platforms matching "${wanted}"` : 'any platform'} (platforms: ${listing})`,
    );
  }
  return out;
}
