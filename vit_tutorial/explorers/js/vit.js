// vit.js: the Vision Transformer (ViTForImageClassification) in plain JavaScript, pixels to logits.
//
// This is chapter 9's vit_tutorial.scratch.vit_trace again, one short function per chapter, under the
// same names (in camelCase) and in the same order: preprocess (chapter 1), patchEmbed (chapter 2), embed (3), selfAttention (4),
// layerNorm (5), encoderLayer with its two residuals (6), gelu and mlp (7), head (8 and 9), vitTrace (9).
// tests/test_vit_js.py runs it in a browser and compares its logits and attention weights with PyTorch's.
// No libraries: its one import is matmul.js, beside it. It runs in a page, in a Web Worker and in Node.
//
// Shapes: one image at a time. A matrix (rows, cols) is a Float32Array in row-major order, element
// [r][c] at r * cols + c: the hidden states x (N+1, D) hold token t's D numbers at x[t*D ... t*D + D-1].
// JavaScript computes in float64; every store into a Float32Array rounds to float32, as PyTorch's tensors do.
//
// Weights: a safetensors file (or several shards) under the Hub checkpoint's names
// ("vit.encoder.layer.0.attention.attention.query.weight", ...), in float32, float16, or int8 with one
// float32 scale per output channel: NAME (I8, (out, in)) and NAME.scale (F32, (out,)), weight[o][i] =
// NAME[o][i] * NAME.scale[o] (vit_tutorial.weights.browser_model writes them).

// the one heavy operation, y = x W^T, in plain JavaScript or WebAssembly SIMD; the explorers ask vit.js
// which path runs (simdInUse), and the tests switch it (useSimd)
import { matmul, simdInUse, useSimd } from "./matmul.js";

export { simdInUse, useSimd };

// ------------------------------------------------------------------ chapter 1: the image processor
// ViTImageProcessor's three steps for an RGB image (uint8, (height, width, 3)): resize to size x size
// with PIL's bilinear filter, rescale by 1/255, normalise with mean 0.5 and std 0.5 -> pixels (3, size, size).
export function preprocess(rgb, width, height, size = 224) {
  const resized = resizeBilinear(rgb, width, height, size, size); // (size, size, 3), uint8
  const pixels = new Float32Array(3 * size * size);
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) pixels[c * size * size + i] = (resized[3 * i + c] * (1 / 255) - 0.5) / 0.5;
  }
  return { resized, pixels };
}

// PIL's Image.resize(..., BILINEAR) for uint8 RGB, step for step (Pillow's Resample.c): one pass per axis,
// each a weighted sum of neighbouring pixels with a triangle ("bilinear") filter as wide as the scale (so
// shrinking averages every pixel it covers), weights in fixed point (22 bits), the sums rounded and clipped
// to 0..255 after each pass. Pillow (13, the pinned version) resizes the width first, unless the width grows
// while the height shrinks; the order matters by one grey level here and there, so we follow it.
export function resizeBilinear(rgb, width, height, outWidth, outHeight) {
  const PRECISION = 22, ONE = 2 ** PRECISION;
  function coefficients(inSize, outSize) { // for each output pixel: [first input pixel, integer weights]
    const scale = inSize / outSize, filterScale = Math.max(scale, 1), support = filterScale; // bilinear: support 1
    return Array.from({ length: outSize }, (_, o) => {
      const centre = (o + 0.5) * scale;
      const first = Math.max(0, Math.trunc(centre - support + 0.5)), last = Math.min(inSize, Math.trunc(centre + support + 0.5));
      const w = [];
      for (let i = first; i < last; i++) w.push(Math.max(0, 1 - Math.abs((i - centre + 0.5) / filterScale)));
      const total = w.reduce((a, b) => a + b, 0);
      return [first, w.map((v) => Math.trunc(0.5 + (total ? v / total : v) * ONE))];
    });
  }
  const clip8 = (v) => (v >= ONE * 256 ? 255 : v <= 0 ? 0 : Math.floor(v / ONE));
  function pass(src, w, h, outW, outH, horizontal) { // one axis; the other keeps its size
    const out = new Uint8Array(outW * outH * 3), coeffs = coefficients(horizontal ? w : h, horizontal ? outW : outH);
    for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) {
      const [first, k] = coeffs[horizontal ? x : y];
      for (let c = 0; c < 3; c++) {
        let sum = ONE / 2; // rounds the result
        for (let j = 0; j < k.length; j++) sum += k[j] * src[(horizontal ? y * w + first + j : (first + j) * w + x) * 3 + c];
        out[(y * outW + x) * 3 + c] = clip8(sum);
      }
    }
    return out;
  }
  let img = rgb;
  if (outWidth > width && outHeight < height) { // the height first
    img = pass(img, width, height, width, outHeight, false);
    img = pass(img, width, outHeight, outWidth, outHeight, true);
  } else {
    if (outWidth !== width) img = pass(img, width, height, outWidth, height, true);
    if (outHeight !== height) img = pass(img, outWidth, height, outWidth, outHeight, false);
  }
  return img === rgb ? Uint8Array.from(rgb) : img;
}

// ------------------------------------------------------------------ the weights: safetensors
const BYTES = { F32: 4, F16: 2, I8: 1 };

// One safetensors file -> {metadata, tensors: {name: {dtype, shape, bytes}}}. The format: 8 bytes of
// header length (little-endian), a JSON header {name: {dtype, shape, data_offsets}}, then the data.
export function readSafetensors(buffer) {
  const length = Number(new DataView(buffer).getBigUint64(0, true));
  if (!(length > 0 && 8 + length <= buffer.byteLength)) throw new Error("not a safetensors file (bad header length)");
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (!(t.dtype in BYTES)) throw new Error(`${name}: dtype ${t.dtype} is not supported (F32, F16 or I8)`);
    const [begin, end] = t.data_offsets;
    tensors[name] = { dtype: t.dtype, shape: t.shape, bytes: new Uint8Array(buffer, 8 + length + begin, end - begin) };
  }
  return { metadata: header.__metadata__ || {}, tensors };
}

function halfToFloat(h) { // IEEE 754 half (16 bits) -> number
  const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 31, fraction = h & 1023;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function toFloat32(t) { // F32 (a view, or a copy when misaligned) or F16 (converted) -> Float32Array
  const b = t.bytes;
  if (t.dtype === "F32") {
    return b.byteOffset % 4 === 0 ? new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)
      : new Float32Array(b.slice().buffer);
  }
  const half = new DataView(b.buffer, b.byteOffset, b.byteLength), out = new Float32Array(b.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(half.getUint16(2 * i, true));
  return out;
}

// The model: weights from one or more safetensors files (ArrayBuffers) and a ViTConfig-shaped object
// (config.json's fields; null: the "architecture" stored in the files' metadata, as the tiny model has).
// Each weight becomes {shape, values: Float32Array} or, for int8, {shape, q: Int8Array, scale: Float32Array}.
export function loadModel(buffers, configJson = null) {
  const tensors = {};
  let metadata = {};
  for (const buffer of buffers) {
    const file = readSafetensors(buffer);
    Object.assign(tensors, file.tensors);
    metadata = { ...metadata, ...file.metadata };
  }
  const weights = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name.endsWith(".scale") && tensors[name.slice(0, -6)]?.dtype === "I8") continue;
    if (t.dtype === "I8") {
      const scale = tensors[name + ".scale"];
      if (!scale || scale.shape[0] !== t.shape[0]) throw new Error(`${name} is int8 but has no ${name}.scale of ${t.shape[0]} values`);
      weights[name] = { shape: t.shape, q: new Int8Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength), scale: toFloat32(scale) };
    } else {
      weights[name] = { shape: t.shape, values: toFloat32(t) };
    }
  }
  const json = configJson ?? (metadata.architecture ? JSON.parse(metadata.architecture) : null);
  if (!json) throw new Error("no config: pass config.json's contents, or weights whose metadata holds 'architecture'");
  return { config: vitConfig(json, weights), weights };
}

// The fields of ViTConfig this forward pass uses, checked, under their Python names.
export function vitConfig(json, weights) {
  const c = json.architecture ?? json;
  const need = ["image_size", "patch_size", "num_channels", "hidden_size", "num_hidden_layers",
    "num_attention_heads", "intermediate_size"];
  for (const key of need) if (!Number.isInteger(c[key]) || c[key] < 1) throw new Error(`config: ${key} must be a positive integer`);
  if ((c.hidden_act ?? "gelu") !== "gelu") throw new Error(`config: hidden_act ${c.hidden_act} is not supported (exact GELU only)`);
  if (c.image_size % c.patch_size) throw new Error("config: image_size must be a multiple of patch_size");
  if (c.hidden_size % c.num_attention_heads) throw new Error("config: hidden_size must divide into the heads");
  const classifier = weights["classifier.weight"];
  if (!classifier) throw new Error("the weights have no classifier.weight (a ViTForImageClassification checkpoint is needed)");
  const num_labels = classifier.shape[0];
  const labels = Array.from({ length: num_labels }, (_, i) => String(c.id2label?.[i] ?? i));
  return { ...pick(c, need), layer_norm_eps: c.layer_norm_eps ?? 1e-12, num_labels, labels };
}
const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));

// A weight as float32 values; an int8 one is multiplied by its scales into `scratch` (reused, so the
// int8 weights stay a quarter of float32's size in memory).
let scratch = new Float32Array(0);
function values(w) {
  if (w.values) return w.values;
  const [rows, cols] = [w.shape[0], w.q.length / w.shape[0]];
  if (scratch.length < w.q.length) scratch = new Float32Array(w.q.length);
  for (let r = 0; r < rows; r++) {
    const s = w.scale[r];
    for (let i = r * cols; i < (r + 1) * cols; i++) scratch[i] = w.q[i] * s;
  }
  return scratch;
}

// The parts of encoder layer i, named as vit_tutorial.bridge.layer_parts names them.
export function layerParts(model, i) {
  const w = model.weights, p = `vit.encoder.layer.${i}.`;
  const get = (name) => ({ weight: w[p + name + ".weight"], bias: w[p + name + ".bias"] });
  return {
    layernorm_before: get("layernorm_before"), query: get("attention.attention.query"),
    key: get("attention.attention.key"), value: get("attention.attention.value"),
    attention_output: get("attention.output.dense"), layernorm_after: get("layernorm_after"),
    mlp_in: get("intermediate.dense"), mlp_out: get("output.dense"),
    num_heads: model.config.num_attention_heads, head_dim: model.config.hidden_size / model.config.num_attention_heads,
  };
}

// ------------------------------------------------------------------ the one heavy operation
// matmul (x (n, k) times w (m, k) transposed -> (n, m)) is in matmul.js, with its WebAssembly SIMD twin.

// chapter 4's linear: x (n, in) -> x W^T + b (n, out), W an nn.Linear's weight (out, in)
export function linear(x, n, layer) {
  const [out, inp] = layer.weight.shape;
  const y = matmul(x, n, inp, values(layer.weight), out);
  const b = layer.bias?.values;
  if (b) for (let t = 0; t < n; t++) for (let o = 0; o < out; o++) y[t * out + o] += b[o];
  return y;
}

// ------------------------------------------------------------------ chapter 2: patches
// pixels (C, H, W), preprocessed -> patch embeddings (N, D). The convolution with stride = kernel = P
// is one linear layer applied to each flattened P x P patch (flattened as the kernel is: (C, P, P)).
export function patchEmbed(pixels, model) {
  const { image_size: S, patch_size: P, num_channels: C } = model.config;
  if (pixels.length !== C * S * S) throw new Error(`pixels must be (${C}, ${S}, ${S}): ${C * S * S} values, got ${pixels.length}`);
  const G = S / P, N = G * G, K = C * P * P;
  const patches = new Float32Array(N * K); // (N, C*P*P), patches row by row
  for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) {
    const row = (gy * G + gx) * K;
    for (let c = 0; c < C; c++) for (let py = 0; py < P; py++) for (let px = 0; px < P; px++) {
      patches[row + (c * P + py) * P + px] = pixels[(c * S + gy * P + py) * S + gx * P + px];
    }
  }
  const conv = "vit.embeddings.patch_embeddings.projection";
  const w = model.weights[conv + ".weight"]; // (D, C, P, P), read as (D, C*P*P)
  return linear(patches, N, { weight: { ...w, shape: [w.shape[0], K] }, bias: model.weights[conv + ".bias"] });
}

// ------------------------------------------------------------------ chapter 3: [CLS] and positions
// patches (N, D) -> x (N+1, D): [CLS] first, then the patches; plus each position's embedding
export function embed(patches, model) {
  const D = model.config.hidden_size, cls = model.weights["vit.embeddings.cls_token"].values;
  const pos = model.weights["vit.embeddings.position_embeddings"].values; // (N+1, D)
  const x = new Float32Array(patches.length + D);
  x.set(cls, 0);
  x.set(patches, D);
  for (let i = 0; i < x.length; i++) x[i] += pos[i];
  return x;
}

// ------------------------------------------------------------------ chapter 4: attention
// x (n, D), after layernorm_before -> {out (n, D), weights (heads, n, n)}: softmax(Q K^T / sqrt(d)) V per head
export function selfAttention(x, n, parts) {
  const D = parts.num_heads * parts.head_dim, H = parts.num_heads, d = parts.head_dim;
  const q = linear(x, n, parts.query), k = linear(x, n, parts.key), v = linear(x, n, parts.value); // (n, D) each
  const weights = new Float32Array(H * n * n), context = new Float32Array(n * D); // (heads, n, n), (n, D)
  const qh = new Float32Array(n * d), kh = new Float32Array(n * d), vhT = new Float32Array(d * n);
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < n; t++) for (let c = 0; c < d; c++) { // head h: columns h*d ... h*d + d-1
      qh[t * d + c] = q[t * D + h * d + c]; kh[t * d + c] = k[t * D + h * d + c]; vhT[c * n + t] = v[t * D + h * d + c];
    }
    const scores = matmul(qh, n, d, kh, n); // (n, n): query i's dot product with key j
    for (let i = 0; i < n; i++) softmaxInPlace(scores, i * n, n, 1 / Math.sqrt(d));
    weights.set(scores, h * n * n);
    const ctx = matmul(scores, n, n, vhT, d); // (n, d) = weights (n, n) V (n, d)
    for (let t = 0; t < n; t++) for (let c = 0; c < d; c++) context[t * D + h * d + c] = ctx[t * d + c];
  }
  return { out: linear(context, n, parts.attention_output), weights };
}

// a[off ... off+len-1] <- softmax(scale * a): exp(z - max) / sum, as chapter 9's softmax
function softmaxInPlace(a, off, len, scale = 1) {
  let max = -Infinity, sum = 0;
  for (let j = 0; j < len; j++) max = Math.max(max, a[off + j] * scale);
  for (let j = 0; j < len; j++) { const e = Math.exp(a[off + j] * scale - max); a[off + j] = e; sum += e; }
  for (let j = 0; j < len; j++) a[off + j] /= sum;
}

// ------------------------------------------------------------------ chapter 5: LayerNorm
// each token's D numbers -> (x - mean) / sqrt(var + eps) * gamma + beta  (x: (n, D))
export function layerNorm(x, n, norm, eps) {
  const D = norm.weight.shape[0], gamma = norm.weight.values, beta = norm.bias.values, y = new Float32Array(n * D);
  for (let t = 0; t < n; t++) {
    let mean = 0, variance = 0;
    for (let i = t * D; i < (t + 1) * D; i++) mean += x[i];
    mean /= D;
    for (let i = t * D; i < (t + 1) * D; i++) variance += (x[i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / D + eps);
    for (let i = 0; i < D; i++) y[t * D + i] = (x[t * D + i] - mean) * inv * gamma[i] + beta[i];
  }
  return y;
}

// ------------------------------------------------------------------ chapter 7: GELU and the MLP
// erf(x), to float64 accuracy where float32 can tell (JavaScript has no Math.erf):
// |x| < 2: its Taylor series 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)), summed until the terms vanish;
// 2 <= |x| < 4: 1 - erfc(x), erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
//   ten levels of that continued fraction (relative error below 1e-8 there);
// |x| >= 4: +-1 (erfc(4) = 1.5e-8 is below half of float32's step at 1).
export function erf(x) {
  const a = Math.abs(x);
  let r = 1;
  if (a < 2) {
    let term = a, sum = a;
    for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) { term *= -a * a / n; sum += term / (2 * n + 1); }
    r = sum * 2 / Math.sqrt(Math.PI);
  } else if (a < 4) {
    let f = a;
    for (let level = 10; level >= 1; level--) f = a + level / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

// the exact GELU: x * Phi(x) = x * (1 + erf(x / sqrt(2))) / 2
export function gelu(x) { return 0.5 * x * (1 + erf(x * Math.SQRT1_2)); }

// x (n, D) -> (n, 4D) -> GELU -> (n, D)
export function mlp(x, n, parts) {
  const h = linear(x, n, parts.mlp_in);
  for (let i = 0; i < h.length; i++) h[i] = gelu(h[i]);
  return linear(h, n, parts.mlp_out);
}

// ------------------------------------------------------------------ chapter 6: the pre-norm layer
// x (n, D) -> {x: h + mlp(LN(h)) with h = x + attention(LN(x)), weights (heads, n, n)}
export function encoderLayer(x, n, parts, eps) {
  const attention = selfAttention(layerNorm(x, n, parts.layernorm_before, eps), n, parts);
  const h = add(x, attention.out); // first residual
  return { x: add(h, mlp(layerNorm(h, n, parts.layernorm_after, eps), n, parts)), weights: attention.weights };
}
const add = (a, b) => { const y = new Float32Array(a.length); for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i]; return y; };

// every layer: x (N+1, D) -> {hiddenStates: layers + 1 of (N+1, D), attentions: layers of (heads, N+1, N+1)}
export function encoder(x, model, onLayer = () => {}) {
  const n = x.length / model.config.hidden_size, hiddenStates = [x], attentions = [];
  for (let i = 0; i < model.config.num_hidden_layers; i++) {
    const layer = encoderLayer(hiddenStates[i], n, layerParts(model, i), model.config.layer_norm_eps);
    hiddenStates.push(layer.x);
    attentions.push(layer.weights);
    onLayer(i + 1, model.config.num_hidden_layers);
  }
  return { hiddenStates, attentions };
}

// ------------------------------------------------------------------ chapters 8 and 9: the head
// the last layer's output (N+1, D) -> final LayerNorm -> [CLS] (its first row) -> classifier -> logits
export function head(x, model) {
  const D = model.config.hidden_size, w = model.weights;
  const cls = x.subarray(0, D); // the final LayerNorm works per token: [CLS]'s row is all the head needs
  const summary = layerNorm(cls, 1, { weight: w["vit.layernorm.weight"], bias: w["vit.layernorm.bias"] }, model.config.layer_norm_eps);
  return linear(summary, 1, { weight: w["classifier.weight"], bias: w["classifier.bias"] }); // (num_labels,)
}

// ------------------------------------------------------------------ chapter 9: the whole model
// pixels (C, H, W) -> {logits (num_labels), hiddenStates, attentions}; onLayer(done, layers) after each layer
export function vitTrace(pixels, model, { onLayer } = {}) {
  const x = embed(patchEmbed(pixels, model), model); // (N+1, D)      chapters 2-3
  const { hiddenStates, attentions } = encoder(x, model, onLayer); // chapters 4-7
  return { logits: head(hiddenStates.at(-1), model), hiddenStates, attentions }; // chapters 8-9
}

// probabilities from logits, and the k most probable classes [[label, probability], ...]
export function softmax(logits) { const p = Float32Array.from(logits); softmaxInPlace(p, 0, p.length); return p; }
export function topK(logits, labels, k = 5) {
  const p = softmax(logits);
  return Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, k).map((i) => [labels[i], p[i]]);
}

// Appendix A1's attention rollout, [CLS]'s row only: heads averaged, 0.5 A + 0.5 I with rows renormalised,
// multiplied from the last layer down to `startLayer`. attentions: layers x (heads, n, n) -> (n,)
export function clsRollout(attentions, heads, startLayer = 0) {
  const n = Math.round(Math.sqrt(attentions[0].length / heads));
  let row = new Float64Array(n);
  row[0] = 1;
  for (let l = attentions.length - 1; l >= startLayer; l--) {
    const a = attentions[l], next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (!row[i]) continue;
      // row i of 0.5 * mean over heads + 0.5 * I sums to 1 already (attention rows do): no renormalising needed
      for (let h = 0; h < heads; h++) for (let j = 0; j < n; j++) next[j] += row[i] * 0.5 * a[(h * n + i) * n + j] / heads;
      next[i] += row[i] * 0.5;
    }
    row = next;
  }
  return Float32Array.from(row);
}
