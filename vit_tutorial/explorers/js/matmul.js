// matmul.js: the one heavy operation of vit.js, y = x W^T, in plain JavaScript and in WebAssembly SIMD.
//
// Nearly all of a ViT's arithmetic is in its linear layers; vit.js's linear (chapter 4) calls matmul.
// The plain loop always works; when the browser runs WebAssembly with 128-bit SIMD, the same loop,
// compiled by tools/matmul_wasm.py into MATMUL_WASM below, does it several times faster.
// Shapes as in vit.js: a matrix (rows, cols) is a Float32Array in row-major order.

// ------------------------------------------------------------------ the loop
// y (n, m) = x (n, k) times w (m, k) transposed: y[t][o] is the dot product of row t of x with row o of
// w, both read left to right in memory. WebAssembly SIMD does it when the browser has it (below);
// otherwise this loop, which computes 2 rows x 4 columns of y at once, so each number it loads is used
// 4 or 2 times, and the 8 sums are independent (the processor overlaps them).
export function matmul(x, n, k, w, m) {
  if (simd && k % 4 === 0 && n >= 2 && m >= 4) return simdMatmul(x, n, k, w, m);
  const y = new Float32Array(n * m);
  for (let t = 0; t < n; t += 2) {
    const two = t + 1 < n, x0 = t * k, x1 = two ? x0 + k : x0;
    for (let o = 0; o < m; o += 4) {
      const cols = Math.min(4, m - o), w0 = o * k;
      const w1 = cols > 1 ? w0 + k : w0, w2 = cols > 2 ? w0 + 2 * k : w0, w3 = cols > 3 ? w0 + 3 * k : w0;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let i = 0; i < k; i++) {
        const a0 = x[x0 + i], a1 = x[x1 + i], c0 = w[w0 + i], c1 = w[w1 + i], c2 = w[w2 + i], c3 = w[w3 + i];
        s00 += a0 * c0; s01 += a0 * c1; s02 += a0 * c2; s03 += a0 * c3;
        s10 += a1 * c0; s11 += a1 * c1; s12 += a1 * c2; s13 += a1 * c3;
      }
      const sums = [[s00, s01, s02, s03], [s10, s11, s12, s13]];
      for (let r = 0; r < (two ? 2 : 1); r++) for (let c = 0; c < cols; c++) y[(t + r) * m + o + c] = sums[r][c];
    }
  }
  return y;
}

// ------------------------------------------------------------------ speed: the same product in WebAssembly SIMD
// matmul's loop, written in WebAssembly with 128-bit SIMD: 4 products per instruction, summed in float64
// like the loop above (2 rows x 4 columns of y per step), several times faster than plain JavaScript.
// tools/matmul_wasm.py writes these bytes, instruction by instruction, and says why the sums are float64;
// tests/test_vit_js.py checks that this file holds what it writes, and both paths against PyTorch.
const MATMUL_WASM = "AGFzbQEAAAABCwFgB39/f39/f38AAwIBAAUDAQABBxMCBm1lbW9yeQIABm1hdG11bAAACpgHAZUHAgt/DHsgBEECdCEKQQAhCAJAA0AgCCAGTw0BIAEgCCAKbGohDSANIApqIQ4gDiAKaiEPIA8gCmohEEEAIQcCQANAIAcgA08NASAAIAcgCmxqIQsgCyAKaiEM/QwAAAAAAAAAAAAAAAAAAAAAIRb9DAAAAAAAAAAAAAAAAAAAAAAhF/0MAAAAAAAAAAAAAAAAAAAAACEY/QwAAAAAAAAAAAAAAAAAAAAAIRn9DAAAAAAAAAAAAAAAAAAAAAAhGv0MAAAAAAAAAAAAAAAAAAAAACEb/QwAAAAAAAAAAAAAAAAAAAAAIRz9DAAAAAAAAAAAAAAAAAAAAAAhHUEAIQkCQANAIAkgCk8NASALIAlq/QAEACESIAwgCWr9AAQAIRMgDSAJav0ABAAhFCASIBT95gEhFSAWIBX9X/3wASAVIBX9DQgJCgsMDQ4PCAkKCwwNDg/9X/3wASEWIBMgFP3mASEVIBogFf1f/fABIBUgFf0NCAkKCwwNDg8ICQoLDA0OD/1f/fABIRogDiAJav0ABAAhFCASIBT95gEhFSAXIBX9X/3wASAVIBX9DQgJCgsMDQ4PCAkKCwwNDg/9X/3wASEXIBMgFP3mASEVIBsgFf1f/fABIBUgFf0NCAkKCwwNDg8ICQoLDA0OD/1f/fABIRsgDyAJav0ABAAhFCASIBT95gEhFSAYIBX9X/3wASAVIBX9DQgJCgsMDQ4PCAkKCwwNDg/9X/3wASEYIBMgFP3mASEVIBwgFf1f/fABIBUgFf0NCAkKCwwNDg8ICQoLDA0OD/1f/fABIRwgECAJav0ABAAhFCASIBT95gEhFSAZIBX9X/3wASAVIBX9DQgJCgsMDQ4PCAkKCwwNDg/9X/3wASEZIBMgFP3mASEVIB0gFf1f/fABIBUgFf0NCAkKCwwNDg8ICQoLDA0OD/1f/fABIR0gCUEQaiEJDAALCyACIAcgBWwgCGpBAnRqIREgESAW/SEAIBb9IQGgtjgCACARIBf9IQAgF/0hAaC2OAIEIBEgGP0hACAY/SEBoLY4AgggESAZ/SEAIBn9IQGgtjgCDCARIAVBAnRqIBr9IQAgGv0hAaC2OAIAIBEgBUECdGogG/0hACAb/SEBoLY4AgQgESAFQQJ0aiAc/SEAIBz9IQGgtjgCCCARIAVBAnRqIB39IQAgHf0hAaC2OAIMIAdBAmohBwwACwsgCEEEaiEIDAALCws=";
let simd = null; // {memory, matmul} once instantiated; null: plain JavaScript
export function useSimd(on = true) {
  simd = null;
  if (!on || !MATMUL_WASM || typeof WebAssembly === "undefined") return false;
  try {
    const bytes = Uint8Array.from(atob(MATMUL_WASM), (c) => c.charCodeAt(0));
    if (!WebAssembly.validate(bytes)) return false;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    simd = instance.exports;
  } catch (err) {
    simd = null;
  }
  return simd !== null;
}
export function simdInUse() { return simd !== null; }
function simdMatmul(x, n, k, w, m) {
  const bytes = 4 * (n * k + m * k + n * m), have = simd.memory.buffer.byteLength;
  if (bytes > have) simd.memory.grow(Math.ceil((bytes - have) / 65536));
  const heap = new Float32Array(simd.memory.buffer), xAt = 0, wAt = n * k, yAt = wAt + m * k;
  heap.set(x.subarray(0, n * k), xAt);
  heap.set(w.subarray(0, m * k), wAt);
  const even = n - (n % 2), four = m - (m % 4);
  simd.matmul(4 * xAt, 4 * wAt, 4 * yAt, even, k, m, four); // rows 0..even-1, columns 0..four-1
  const y = heap.slice(yAt, yAt + n * m);
  for (let t = 0; t < n; t++) { // the last row (n odd) and the last columns (m not a multiple of 4)
    for (let o = t < even ? four : 0; o < m; o++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += x[t * k + i] * w[o * k + i];
      y[t * m + o] = s;
    }
  }
  return y;
}
useSimd(true);
