/**
 * Jest runs each test file in a vm context, whose global object answers every
 * lookup through an interceptor: a hot loop that reads `Math` or `Float64Array`
 * each time cannot be optimised and runs several times slower than in a plain
 * process (the trainers ran 7x slower under Jest). Binding the builtins once per
 * module, to the same objects, gives the compiled code its normal speed in the
 * tests; the workers, which run the same files, do not go through this.
 */
const BUILTINS = ['Math', 'Number', 'Array', 'Object', 'ArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array'];
const PRELUDE = `const { ${BUILTINS.join(', ')} } = globalThis;`;
const STRICT = '"use strict";';

module.exports = {
  process(source) {
    // After the directive, on its line: strict mode stays on and line numbers stay where the source maps say.
    return { code: source.startsWith(STRICT) ? `${STRICT}${PRELUDE}${source.slice(STRICT.length)}` : `${PRELUDE}${source}` };
  },
};
