// Importing this module registers every CPU kernel.
import './elementwise.ts';
import './transform.ts';
import './conv.ts';
import './dense.ts';
import './pool.ts';
import './norm.ts';
import './reduce.ts';
import './quantize.ts';
import './integer.ts';
