// binary-parser ships its typings beside the CommonJS build only, which NodeNext resolution does
// not find for the ESM entry point; the API is the same in both builds.
declare module 'binary-parser' {
  export * from 'binary-parser/dist/binary_parser.js';
}
