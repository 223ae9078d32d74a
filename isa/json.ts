/** The JSON form of instructions (`vta-disasm --json`): VTA's field names in layout order, enums by name. */
import type { VtaConfig } from './config.ts';
import type { FormatLayout } from './layout.ts';
import type { Insn } from './types.ts';

function formatOf(cfg: VtaConfig, insn: Insn): FormatLayout {
  switch (insn.opcode) {
    case 'LOAD':
    case 'STORE':
      return cfg.layout.mem;
    case 'GEMM':
      return cfg.layout.gemm;
    case 'ALU':
      return cfg.layout.alu;
    case 'FINISH':
      return cfg.layout.finish;
  }
}

export function insnToJson(cfg: VtaConfig, insn: Insn): Record<string, number | string> {
  const rec = insn as unknown as Record<string, number | string>;
  const out: Record<string, number | string> = {};
  for (const f of formatOf(cfg, insn).fields) out[f.name] = rec[f.name]!;
  return out;
}
