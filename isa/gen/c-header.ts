/** The C header for the OpenCL core (and any C implementation): constants and field positions. */
import type { VtaConfig } from '../config.ts';
import { banner, configConstants, enumConstants, fieldGroups } from './constants.ts';

export function cHeader(cfg: VtaConfig): string {
  const out: string[] = [];
  const def = (name: string, value: number | string, comment?: string) =>
    out.push(`#define ${name} ${typeof value === 'number' ? (value > 0x7fffffff ? `${value}u` : String(value)) : value}${comment ? ` /* ${comment} */` : ''}`);
  out.push(`/* ${banner(cfg)} */`, '#ifndef VTA_ISA_H_', '#define VTA_ISA_H_', '');
  def('VTA_FINGERPRINT', JSON.stringify(cfg.fingerprint));
  for (const c of configConstants(cfg)) def(`VTA_${c.name}`, c.value, c.comment);
  for (const g of enumConstants()) {
    out.push('');
    for (const c of g.values) def(`VTA_${g.group}_${c.name}`, c.value);
  }
  out.push(
    '',
    '/* Field positions. OFFSET is the bit offset in the 128-bit instruction (32-bit micro-op); no field',
    '   straddles bit 64, so WORD (0 or 1) and SHIFT locate it in one little-endian 64-bit word. */',
  );
  for (const g of fieldGroups(cfg)) {
    out.push('');
    for (const f of g.fields) {
      const p = `VTA_${g.format}_${f.name.toUpperCase()}`;
      def(`${p}_OFFSET`, f.offset);
      def(`${p}_WIDTH`, f.width);
      def(`${p}_WORD`, f.offset >> 6);
      def(`${p}_SHIFT`, f.offset & 63);
      if (f.signed) def(`${p}_SIGNED`, 1);
    }
  }
  out.push('', '#endif /* VTA_ISA_H_ */', '');
  return out.join('\n');
}
