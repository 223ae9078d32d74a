/**
 * The device targets and where their drivers live. Each driver module exports one `DriverFactory`;
 * modules are imported only when their target is asked for, so a machine without OpenCL or
 * Verilator can still use the simulators.
 */
import type { DriverFactory, TargetName } from '../isa/device.ts';
import { TargetError } from './errors.ts';

export const TARGETS: readonly TargetName[] = ['sim', 'cyclesim', 'intelfocl', 'tsim', 'webgpu'];

const DRIVER_MODULES: Record<TargetName, { module: string; factory: string }> = {
  sim: { module: '../sim/driver.ts', factory: 'createSimDriver' },
  cyclesim: { module: '../sim/cycle/driver.ts', factory: 'createCycleSimDriver' },
  intelfocl: { module: '../hw-opencl/driver.ts', factory: 'createIntelFoclDriver' },
  tsim: { module: '../hw-chisel/driver.ts', factory: 'createTsimDriver' },
  webgpu: { module: '../webgpu/driver.ts', factory: 'createWebGpuDriver' },
};

export function isTarget(name: string): name is TargetName {
  return (TARGETS as readonly string[]).includes(name);
}

export async function driverFactory(target: string): Promise<DriverFactory> {
  if (!isTarget(target)) throw new TargetError(target, `unknown target (known: ${TARGETS.join(', ')})`);
  const { module, factory } = DRIVER_MODULES[target];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(new URL(module, import.meta.url).href)) as Record<string, unknown>;
  } catch (e) {
    throw new TargetError(target, `its driver could not be loaded: ${(e as Error).message}`, { cause: e });
  }
  const f = mod[factory];
  if (typeof f !== 'function') throw new TargetError(target, `${module} does not export ${factory}`);
  return f as DriverFactory;
}
