/** The JSON form of instructions (`vta-disasm --json`): VTA's field names in layout order, enums by name. */
import { formatOf } from './codec.ts';
import type { VtaConfig } from './config.ts';
import type { Insn } from './types.ts';

export function insnToJson(cfg: VtaConfig, insn: Insn): Record<string, number | string> {
  const rec = insn as unknown as Record<string, number | string>;
  const out: Record<string, number | string> = {};
  for (const f of formatOf(cfg, insn.opcode).fields) out[f.name] = rec[f.name]!;
  return out;
}
