/**
 * ONNX -> IR. Decodes the model with the generated protobuf code, binds
 * initializers as constants (also when they are listed as graph inputs), turns
 * the remaining inputs into typed parameters and converts each node in order.
 * Every unsupported node is reported at once, before any conversion.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { VtaError } from '../../isa/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { constant, variable, type IRFunction, type TensorType, type Value, type Var } from '../ir/graph.ts';
// The importer builds calls of any op: as an entry point it registers the whole op set once.
import '../ir/ops/index.ts';
import { Attributes } from './attributes.ts';
import { NodeContext } from './context.ts';
import { CONVERTERS, MAX_OPSET, MIN_OPSET, SINCE_OPSET, UNTIL_OPSET } from './convert/index.ts';
import { OnnxImportError, UnsupportedOpsError, type UnsupportedOp } from './errors.ts';
import { ModelProtoSchema, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from './gen/onnx_pb.ts';
import { dimsOf, dtypeOf, tensorFromProto, type ExternalData } from './tensor-proto.ts';

export interface ImportedModel {
  fn: IRFunction;
  /** ONNX names of the function's results, in order. */
  outputNames: string[];
  /** The default-domain opset the model imports. */
  opset: number;
}

export interface ImportOptions {
  /** The name used in messages (the file path when importing a file). */
  file?: string;
  /** Folder holding external data files. */
  baseDir?: string;
  /** Static shapes for inputs whose declared shape has symbolic or missing dimensions. */
  inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** Graph inputs bound to known values at import (e.g. a shape operand fed as an input), as constants. */
  bindInputs?: Readonly<Record<string, Tensor>>;
  /**
   * The batch to compile for: replaces the leading dimension (declared 1, or symbolic) of every
   * graph input of rank 2 or more, so the graph computes that many samples at once.
   */
  batch?: number;
}

export function importOnnxFile(file: string, opts: Omit<ImportOptions, 'file' | 'baseDir'> = {}): ImportedModel {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new OnnxImportError(file, `cannot read the model (${(e as NodeJS.ErrnoException).code ?? e})`, undefined, undefined, { cause: e });
  }
  return importOnnx(bytes, { ...opts, file, baseDir: path.dirname(path.resolve(file)) });
}

export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): ImportedModel {
  const file = opts.file ?? '<model>';
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw new OnnxImportError(file, `not a valid ONNX model (${(e as Error).message})`, undefined, undefined, { cause: e });
  }
  const graph = model.graph;
  if (!graph || (graph.node.length === 0 && graph.output.length === 0)) throw new OnnxImportError(file, 'not an ONNX model: it has no graph');
  const opset = defaultOpset(model, file);
  checkSupported(graph, opset, file);
  return new GraphImporter(graph, opset, file, { baseDir: opts.baseDir, cache: new Map() }, opts).run();
}

function defaultOpset(model: ModelProto, file: string): number {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  // IR version 3 and later must declare it; older models implied opset 1, which is unsupported anyway.
  if (!entry) throw new OnnxImportError(file, 'the model imports no opset of the default ONNX domain');
  return Number(entry.version);
}

function checkSupported(graph: GraphProto, opset: number, file: string): void {
  const bad: UnsupportedOp[] = [];
  graph.node.forEach((node, i) => {
    const name = node.name || node.output[0] || `#${i}`;
    const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
    if (node.domain && node.domain !== 'ai.onnx') bad.push({ node: name, op, reason: `domain '${node.domain}' is not supported` });
    else if (!Object.hasOwn(CONVERTERS, node.opType)) bad.push({ node: name, op, reason: 'operator not supported' });
    else if (opset < MIN_OPSET || opset > MAX_OPSET) bad.push({ node: name, op, reason: `opset ${opset} is not supported (${MIN_OPSET} to ${MAX_OPSET} are)` });
    else if ((SINCE_OPSET[node.opType] ?? 0) > opset || (UNTIL_OPSET[node.opType] ?? Infinity) < opset) bad.push({ node: name, op, reason: `not defined in opset ${opset}` });
  });
  if (bad.length) throw new UnsupportedOpsError(file, bad);
}

class GraphImporter {
  private readonly values = new Map<string, Value>();
  private readonly params: Var[] = [];
  /** Outputs a converter does not produce (Dropout's mask, MaxPool's indices): an error only if something reads them. */
  private readonly unavailable = new Map<string, string>();

  constructor(
    private readonly graph: GraphProto,
    private readonly opset: number,
    private readonly file: string,
    private readonly external: ExternalData,
    private readonly opts: ImportOptions,
  ) {}

  run(): ImportedModel {
    if (this.graph.sparseInitializer.length) throw new OnnxImportError(this.file, 'sparse initializers are not supported');
    for (const init of this.graph.initializer) {
      this.values.set(init.name, constant(init.name, tensorFromProto(init, this.file, this.external)));
    }
    for (const input of this.graph.input) {
      const bound = this.opts.bindInputs?.[input.name];
      if (bound) this.values.set(input.name, constant(input.name, bound));
      if (this.values.has(input.name)) continue;
      const p = variable(input.name, this.inputType(input));
      this.params.push(p);
      this.values.set(input.name, p);
    }
    this.graph.node.forEach((node, i) => this.convert(node, i));
    const results = this.graph.output.map((o) => {
      const v = this.values.get(o.name);
      const missing = this.unavailable.get(o.name);
      if (missing) throw new OnnxImportError(this.file, `graph output '${o.name}' is ${missing}`);
      if (!v) throw new OnnxImportError(this.file, `graph output '${o.name}' is not produced by any node`);
      this.checkDeclared(o, v);
      return v;
    });
    return { fn: { params: this.params, results }, outputNames: this.graph.output.map((o) => o.name), opset: this.opset };
  }

  private inputType(info: ValueInfoProto): TensorType {
    const what = `input '${info.name}'`;
    const t = info.type?.value.case === 'tensorType' ? info.type.value.value : undefined;
    if (!t) throw new OnnxImportError(this.file, `${what} is not a tensor`);
    const dtype = dtypeOf(t.elemType, what, this.file);
    const given = this.opts.inputShapes?.[info.name];
    if (given) return { shape: [...given], dtype };
    if (!t.shape) throw new OnnxImportError(this.file, `${what} has no shape; static shapes are required`);
    const batch = this.opts.batch;
    if (batch !== undefined && (!Number.isInteger(batch) || batch < 1)) throw new OnnxImportError(this.file, `batch must be a positive integer, got ${batch}`);
    const batched = batch !== undefined && t.shape.dim.length >= 2;
    const dims = t.shape.dim.map((d, i) => {
      if (batched && i === 0) {
        if (d.value.case === 'dimValue' && d.value.value !== 1n) throw new OnnxImportError(this.file, `${what} has batch ${d.value.value}; a batch can be set only on a model declared with batch 1 or a symbolic one`);
        return BigInt(batch);
      }
      if (d.value.case === 'dimValue') return d.value.value;
      throw new OnnxImportError(this.file, `${what} has a symbolic dimension '${d.value.case === 'dimParam' ? d.value.value : '?'}'; give a static shape`);
    });
    return { shape: dimsOf(dims, what, this.file), dtype };
  }

  private checkDeclared(info: ValueInfoProto, v: Value): void {
    const t = info.type?.value.case === 'tensorType' ? info.type.value.value : undefined;
    if (!t?.elemType) return;
    if (dtypeOf(t.elemType, `output '${info.name}'`, this.file) !== v.type.dtype) {
      throw new OnnxImportError(this.file, `output '${info.name}' is declared ${dtypeOf(t.elemType, '', this.file)} but computes ${v.type.dtype}`);
    }
  }

  private convert(node: NodeProto, index: number): void {
    const name = node.name || node.output[0] || `#${index}`;
    const inputs = node.input.map((n) => {
      if (n === '') return undefined;
      const missing = this.unavailable.get(n);
      if (missing) throw new OnnxImportError(this.file, `reads '${n}', ${missing}`, name, node.opType);
      const v = this.values.get(n);
      if (!v) throw new OnnxImportError(this.file, `input '${n}' is not defined before this node`, name, node.opType);
      return v;
    });
    const fail = (msg: string): never => {
      throw new OnnxImportError(this.file, msg, name, node.opType);
    };
    const attrs = new Attributes(node.attribute, fail, (a) => tensorFromProto(a.t!, this.file, this.external));
    const ctx = new NodeContext(node, this.opset, this.file, inputs, attrs);
    let out: Value | readonly Value[];
    try {
      out = CONVERTERS[node.opType]!(ctx);
    } catch (e) {
      // Errors below the converter (a bad tensor, a type error) get the node named.
      if (e instanceof OnnxImportError && e.node !== undefined) throw e;
      if (e instanceof VtaError) fail(e instanceof OnnxImportError ? e.detail : e.message);
      throw e;
    }
    const results = Array.isArray(out) ? out : [out as Value];
    node.output.forEach((o, i) => {
      if (!o) return;
      const v = results[i];
      if (v) this.values.set(o, v);
      else this.unavailable.set(o, `output ${i} of node '${name}' (${node.opType}), which is not supported`);
    });
  }
}
