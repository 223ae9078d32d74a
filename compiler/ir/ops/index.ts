// Importing this module registers every operator definition. The graph does not import it (the
// registry sits below the graph); entry points that build calls do: the ONNX importer, the pass
// pipeline, and tests that build graphs by hand.
import './elementwise.ts';
import './transform.ts';
import './nn.ts';
import './reduce.ts';
import './quantize.ts';
import './integer.ts';
