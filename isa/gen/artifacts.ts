/** The generated files kept in the repository, and what each should contain. */
import { fileURLToPath } from 'node:url';
import { preset } from '../config.ts';
import { cHeader } from './c-header.ts';
import { scalaObject } from './scala.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Artifact {
  /** Path relative to the repository root. */
  path: string;
  absolutePath: string;
  content: string;
}

export function generatedArtifacts(): Artifact[] {
  const cfg = preset('default');
  return [
    { path: 'hw-opencl/src/vta_isa.h', content: cHeader(cfg) },
    { path: 'hw-chisel/src/main/scala/vta/IsaConstants.scala', content: scalaObject(cfg) },
  ].map((a) => ({ ...a, absolutePath: repoRoot + a.path }));
}
