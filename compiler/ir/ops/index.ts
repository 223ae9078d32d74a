// Importing this module registers every operator definition.
import './elementwise.ts';
import './transform.ts';
import './nn.ts';
import './reduce.ts';
import './quantize.ts';
import './integer.ts';
