/**
 * Reading and writing compiled models (.vta): the protobuf messages of vta_model.proto plus the
 * checks a loader needs before trusting a file — its integrity (a SHA-256 digest over the
 * serialized model, checked before the model is decoded), the format version and the hardware
 * configuration it was compiled for.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { VtaConfig } from '../../isa/config.ts';
import { VtaError } from '../../isa/errors.ts';
import { CompiledModelSchema, ModelFileSchema, type CompiledModel } from './gen/vta_model_pb.ts';

export * from './gen/vta_model_pb.ts';

/**
 * Bumped whenever a change to vta_model.proto or to how it is filled changes a model's meaning.
 * 2: the file is a ModelFile envelope carrying the model's SHA-256.
 */
export const FORMAT_VERSION = 2;

export class ModelFormatError extends VtaError {
  constructor(readonly file: string, message: string) {
    super('VTA_MODEL_FORMAT', `${file}: ${message}`);
  }
}

export function newModel(init: Omit<Partial<CompiledModel>, '$typeName'>): CompiledModel {
  return create(CompiledModelSchema, init);
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

/** The bytes of a .vta file: the serialized model in a ModelFile with its digest. */
export function encodeModel(model: CompiledModel): Uint8Array {
  const payload = toBinary(CompiledModelSchema, model);
  return toBinary(ModelFileSchema, create(ModelFileSchema, { formatVersion: FORMAT_VERSION, sha256: sha256(payload), model: payload }));
}

const damaged = (what: string) => `the file is damaged (${what}): it was changed or cut short after vta-compile wrote it; compile the model again`;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * Decodes a .vta file's bytes. Nothing of the model is decoded before the file is known whole:
 * the envelope must be exactly what encodeModel writes (no stray or missing bytes), of this
 * format version, and the model's bytes must hash to the stored SHA-256. Then the model is checked
 * against `cfg`, when given. Every refusal is a ModelFormatError naming `file`.
 */
export function decodeModel(bytes: Uint8Array, file: string, cfg?: VtaConfig): CompiledModel {
  if (bytes.length === 0) throw new ModelFormatError(file, 'not a compiled VTA model (the file is empty)');
  let envelope;
  try {
    envelope = fromBinary(ModelFileSchema, bytes, { readUnknownFields: false });
  } catch (e) {
    throw new ModelFormatError(file, `not a compiled VTA model, or ${damaged(`unreadable: ${(e as Error).message}`)}`);
  }
  if (envelope.formatVersion !== FORMAT_VERSION) {
    throw new ModelFormatError(
      file,
      envelope.formatVersion === 0
        ? `not a compiled VTA model (no format version), or ${damaged('no format version')}`
        : `compiled model format version ${envelope.formatVersion}, but this runtime reads version ${FORMAT_VERSION}: recompile it with this vta-compile (or, if it was, ${damaged('wrong format version')})`,
    );
  }
  if (!sameBytes(toBinary(ModelFileSchema, envelope), bytes)) throw new ModelFormatError(file, damaged('bytes outside the model and its digest'));
  if (envelope.sha256.length !== 32) throw new ModelFormatError(file, damaged(`its SHA-256 digest is ${envelope.sha256.length} bytes long, not 32`));
  if (!sameBytes(sha256(envelope.model), envelope.sha256)) throw new ModelFormatError(file, damaged('its contents do not match their SHA-256 digest'));
  let model: CompiledModel;
  try {
    model = fromBinary(CompiledModelSchema, envelope.model);
  } catch (e) {
    // The digest matched, so the writer itself produced these bytes.
    throw new ModelFormatError(file, `the model inside the file does not decode (${(e as Error).message})`);
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
