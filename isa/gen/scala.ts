/** The Scala object for the Chisel core: the same constants as the C header. */
import type { VtaConfig } from '../config.ts';
import { banner, configConstants, enumConstants, fieldGroups } from './constants.ts';

const pascal = (s: string) => s.charAt(0) + s.slice(1).toLowerCase();

export function scalaObject(cfg: VtaConfig): string {
  const out: string[] = [`// ${banner(cfg)}`, 'package vta', '', 'object IsaConstants {'];
  out.push('  /** A field of an instruction or micro-op: bits [offset, offset + width). */');
  out.push('  final case class Field(offset: Int, width: Int, signed: Boolean = false) { def hi: Int = offset + width - 1 }');
  out.push('', `  val FINGERPRINT = ${JSON.stringify(cfg.fingerprint)}`);
  for (const c of configConstants(cfg)) out.push(`  val ${c.name} = ${c.value}${c.comment ? ` // ${c.comment}` : ''}`);
  for (const g of enumConstants()) {
    out.push('', `  object ${g.group.split('_').map(pascal).join('')} {`);
    for (const c of g.values) out.push(`    val ${c.name} = ${c.value}`);
    out.push('  }');
  }
  for (const g of fieldGroups(cfg)) {
    out.push('', `  object ${pascal(g.format)}Fields {`);
    for (const f of g.fields) out.push(`    val ${f.name} = Field(${f.offset}, ${f.width}${f.signed ? ', signed = true' : ''})`);
    out.push('  }');
  }
  out.push('}', '');
  return out.join('\n');
}
