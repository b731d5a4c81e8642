/**
 * Jest runs tests in a separate realm, where `new Float32Array()` is not an
 * instance of the host's Float32Array; onnxruntime-node checks tensor data with
 * instanceof, so the test realm uses the host's typed arrays.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['ArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];

module.exports = class HostTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
};
