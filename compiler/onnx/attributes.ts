/** Typed access to a node's attributes; a wrong attribute type is an import error naming the node. */
import type { Tensor } from '../tensor/tensor.ts';
import { AttributeProto_AttributeType as T, type AttributeProto } from './gen/onnx_pb.ts';

export class Attributes {
  private readonly byName = new Map<string, AttributeProto>();

  constructor(
    list: readonly AttributeProto[],
    private readonly fail: (msg: string) => never,
    private readonly toTensor: (a: AttributeProto) => Tensor,
  ) {
    for (const a of list) this.byName.set(a.name, a);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  private get(name: string, type: T, typeName: string): AttributeProto | undefined {
    const a = this.byName.get(name);
    if (a && a.type !== type && a.type !== T.UNDEFINED) this.fail(`attribute ${name} must be ${typeName}`);
    return a;
  }

  int(name: string, fallback: number): number;
  int(name: string): number | undefined;
  int(name: string, fallback?: number): number | undefined {
    const a = this.get(name, T.INT, 'an int');
    if (!a) return fallback;
    const v = Number(a.i);
    if (!Number.isSafeInteger(v)) this.fail(`attribute ${name} = ${a.i} is out of range`);
    return v;
  }

  ints(name: string, fallback: readonly number[]): number[];
  ints(name: string): number[] | undefined;
  ints(name: string, fallback?: readonly number[]): number[] | undefined {
    const a = this.get(name, T.INTS, 'a list of ints');
    if (!a) return fallback && [...fallback];
    return a.ints.map((i) => {
      const v = Number(i);
      if (!Number.isSafeInteger(v)) this.fail(`attribute ${name} holds ${i}, out of range`);
      return v;
    });
  }

  float(name: string, fallback: number): number;
  float(name: string): number | undefined;
  float(name: string, fallback?: number): number | undefined {
    const a = this.get(name, T.FLOAT, 'a float');
    return a ? a.f : fallback;
  }

  floats(name: string): number[] | undefined {
    return this.get(name, T.FLOATS, 'a list of floats')?.floats.slice();
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const a = this.get(name, T.STRING, 'a string');
    return a ? new TextDecoder().decode(a.s) : fallback;
  }

  tensor(name: string): Tensor | undefined {
    const a = this.get(name, T.TENSOR, 'a tensor');
    return a?.t ? this.toTensor(a) : a ? this.fail(`attribute ${name} has no tensor`) : undefined;
  }

  /** Names of attributes present, for refusing ones the importer does not implement. */
  names(): string[] {
    return [...this.byName.keys()];
  }
}
