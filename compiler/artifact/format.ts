/**
 * Reading and writing compiled models (.vta): the protobuf messages of vta_model.proto plus the
 * checks a loader needs before trusting a file — the format version and the hardware
 * configuration it was compiled for.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { VtaConfig } from '../../isa/config.ts';
import { VtaError } from '../../isa/errors.ts';
import { CompiledModelSchema, type CompiledModel } from './gen/vta_model_pb.ts';

export * from './gen/vta_model_pb.ts';

/** Bumped whenever a change to vta_model.proto or to how it is filled changes a model's meaning. */
export const FORMAT_VERSION = 1;

export class ModelFormatError extends VtaError {
  constructor(readonly file: string, message: string) {
    super('VTA_MODEL_FORMAT', `${file}: ${message}`);
  }
}

export function newModel(init: Omit<Partial<CompiledModel>, '$typeName' | 'formatVersion'>): CompiledModel {
  return create(CompiledModelSchema, { ...init, formatVersion: FORMAT_VERSION });
}

export function encodeModel(model: CompiledModel): Uint8Array {
  return toBinary(CompiledModelSchema, model);
}

/**
 * Decodes a model and checks it was made for this format version and, when `cfg` is given, for
 * that hardware configuration. Messages say which differs.
 */
export function decodeModel(bytes: Uint8Array, file: string, cfg?: VtaConfig): CompiledModel {
  let model: CompiledModel;
  try {
    model = fromBinary(CompiledModelSchema, bytes);
  } catch (e) {
    throw new ModelFormatError(file, `not a compiled VTA model (${(e as Error).message})`);
  }
  if (model.formatVersion !== FORMAT_VERSION) {
    throw new ModelFormatError(
      file,
      model.formatVersion === 0
        ? 'not a compiled VTA model (no format version)'
        : `compiled model format version ${model.formatVersion}, but this runtime reads version ${FORMAT_VERSION}: recompile it with this vta-compile`,
    );
  }
  if (cfg && model.configFingerprint !== cfg.fingerprint) {
    throw new ModelFormatError(
      file,
      `compiled for hardware configuration ${model.configFingerprint}, but the device is configured as ${cfg.fingerprint} (${cfg.name}): recompile with --config matching the device`,
    );
  }
  return model;
}

export async function writeModelFile(path: string, model: CompiledModel): Promise<void> {
  await writeFile(path, encodeModel(model));
}

export async function readModelFile(path: string, cfg?: VtaConfig): Promise<CompiledModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ModelFormatError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeModel(bytes, path, cfg);
}
