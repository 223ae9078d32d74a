import { VtaError } from '../../isa/errors.ts';

/** A model that cannot be imported: unreadable, malformed, or using something the importer does not support. */
export class OnnxImportError extends VtaError {
  constructor(
    readonly file: string,
    /** The problem alone, without the file and node the message starts with. */
    readonly detail: string,
    readonly node?: string,
    readonly op?: string,
    options?: { cause?: unknown; code?: string },
  ) {
    super(options?.code ?? 'VTA_ONNX_IMPORT', `${file}: ${node !== undefined ? `node '${node}' (${op}): ` : ''}${detail}`, options);
  }
}

export interface UnsupportedOp {
  node: string;
  op: string;
  reason: string;
}

/** Every node the importer cannot convert, found in one pass so the user sees them all at once. */
export class UnsupportedOpsError extends OnnxImportError {
  constructor(file: string, readonly unsupported: readonly UnsupportedOp[]) {
    const list = unsupported.map((u) => `  node '${u.node}' (${u.op}): ${u.reason}`).join('\n');
    super(file, `${unsupported.length} unsupported node${unsupported.length === 1 ? '' : 's'}:\n${list}`, undefined, undefined, { code: 'VTA_ONNX_UNSUPPORTED' });
  }
}
