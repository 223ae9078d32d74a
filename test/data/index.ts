/**
 * Where the tests' and benchmarks' data lives. The small files are in this folder (see README.md);
 * the large models (ResNet-18 float and int8 QDQ) are found through one setting, VTA_MODELS,
 * defaulting to ../shared/models beside the checkout where that exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dataDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(dataDir, '../..');

/** The digits models, their reference inputs/outputs and the digits test and calibration sets. */
export const smallModels = path.join(dataDir, 'models');

/** ONNX backend test cases: pytorch-converted/, pytorch-operator/, simple/ and light/. */
export const onnxTests = path.join(dataDir, 'onnx-tests');

/** Float graphs in the styles of older model-zoo exports, made by styles/make_graphs.py. */
export const styleGraphs = path.join(dataDir, 'styles');

/** Dense, MatMul and transformer-block graphs, made by dense/gen.py. */
export const denseGraphs = path.join(dataDir, 'dense');

export const LARGE_MODELS_SETTING = 'VTA_MODELS';

/** The files a large-models folder must hold. */
export const LARGE_MODEL_FILES = [
  'resnet18.onnx', 'resnet18.ref_in.npy', 'resnet18.ref_out.npy',
  'resnet18_int8_qdq.onnx', 'resnet18_int8_qdq.ref_in.npy', 'resnet18_int8_qdq.ref_out.npy',
];

function findLargeModels(): { dir: string; missing: string[] } {
  const set = process.env[LARGE_MODELS_SETTING];
  const dir = set ? path.resolve(set) : path.resolve(repoRoot, '../shared/models');
  return { dir, missing: LARGE_MODEL_FILES.filter((f) => !fs.existsSync(path.join(dir, f))) };
}

const large = findLargeModels();

/** The folder the large models are read from (it may lack them: see `largeModelsMissing`). */
export const largeModels = large.dir;

/** Why the large models cannot be used, or undefined when every one of them is there. */
export const largeModelsMissing: string | undefined = large.missing.length === 0 ? undefined
  : `${large.missing.length === LARGE_MODEL_FILES.length ? 'the large models are not' : `${large.missing.join(', ')} missing`} in ${large.dir}: ` +
    `set ${LARGE_MODELS_SETTING} to a folder holding resnet18.onnx, resnet18_int8_qdq.onnx and their .ref_in.npy/.ref_out.npy`;

/**
 * The path of a model or data file: the small ones from this folder, resnet18* from VTA_MODELS
 * (an error naming the setting where those are missing).
 */
export function modelFile(name: string): string {
  if (!name.startsWith('resnet18')) return path.join(smallModels, name);
  if (largeModelsMissing !== undefined) throw new Error(`${name}: ${largeModelsMissing}`);
  return path.join(largeModels, name);
}
