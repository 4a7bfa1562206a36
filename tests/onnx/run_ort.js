// Runs a qat ONNX export in ONNX Runtime (npm onnxruntime-node, CPU) on
// images written by the test as raw float32, and writes every output of
// the graph back as raw bytes for the test to compare with qat's engine.
//
//   node run_ort.js MODEL DIR [--threads N] [--opt disabled|basic|all] [--bench REPEATS]
//                   [--optimized FILE]
//
// DIR/manifest.txt: one line per image, "NAME N C H W [int8|uint8]"; the
// image is DIR/NAME.f32 (N*C*H*W little-endian float32), or with int8
// DIR/NAME.i8, with uint8 DIR/NAME.u8 (codes, for a model exported with
// --integer-part; uint8 = code + 128 for --ort-int8). Writes
// DIR/ort_NAME.OUTPUT.bin (logits float32, codes.* int8 or uint8). --bench: no files, prints the median
// milliseconds of REPEATS runs of each image (after one warm-up run).
// --optimized FILE: ONNX Runtime writes the graph it runs, after its
// optimisations (session option optimizedModelFilePath), to FILE, and this
// prints its nodes by op type ("ops: QLinearConv 12, ..."): which convs run
// as int8 kernels (QLinearConv, ConvInteger) and which in float (Conv,
// FusedConv).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = { model: argv[0], dir: argv[1], threads: 1, opt: 'all', bench: 0, optimized: '' };
  if (!a.model || !a.dir) throw new Error('usage: node run_ort.js MODEL DIR [--threads N] [--opt disabled|basic|all] [--bench REPEATS] [--optimized FILE]');
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, ''), value = argv[i + 1];
    if (!(key in a) || value === undefined) throw new Error(`run_ort.js: unknown or incomplete option ${argv[i]}`);
    a[key] = key === 'opt' || key === 'optimized' ? value : Number(value);
  }
  return a;
}

function readManifest(dir) {
  const text = fs.readFileSync(path.join(dir, 'manifest.txt'), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => {
    const [name, n, c, h, w, type] = l.trim().split(/\s+/);
    return { name, dims: [n, c, h, w].map(Number), type: type || 'float32' };
  });
}

function inputTensor(dir, img) {
  const kinds = { float32: ['.f32', Float32Array], int8: ['.i8', Int8Array], uint8: ['.u8', Uint8Array] };
  if (!(img.type in kinds)) throw new Error(`${img.name}: type ${img.type}, expected int8 or uint8`);
  const [ext, Type] = kinds[img.type], file = img.name + ext;
  const buf = fs.readFileSync(path.join(dir, file));
  const n = img.dims.reduce((x, y) => x * y, 1);
  const bytes = Type.BYTES_PER_ELEMENT * n;
  if (buf.length !== bytes) throw new Error(`${file}: ${buf.length} bytes, expected ${bytes}`);
  return new ort.Tensor(img.type, Type.from(new Type(buf.buffer, buf.byteOffset, n)), img.dims);
}

// The op types of an ONNX file's nodes, counted: ModelProto.graph (field 7)
// -> GraphProto.node (1) -> NodeProto.op_type (4), read from the protobuf
// wire format directly (no protobuf package here).
function countOps(file) {
  const buf = fs.readFileSync(file);
  const varint = (p) => {
    let v = 0, mul = 1, b;
    do { b = buf[p.i++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
    return v;
  };
  // calls f(field, start, end) for each length-delimited field of buf[start, end)
  const walk = (start, end, f) => {
    const p = { i: start };
    while (p.i < end) {
      const key = varint(p), wire = key % 8, field = Math.floor(key / 8);
      if (wire === 0) varint(p);
      else if (wire === 1) p.i += 8;
      else if (wire === 5) p.i += 4;
      else if (wire === 2) { const n = varint(p); f(field, p.i, p.i + n); p.i += n; }
      else throw new Error(`${file}: protobuf wire type ${wire}`);
    }
  };
  const counts = {};
  walk(0, buf.length, (f, s, e) => f === 7 && walk(s, e, (g, s2, e2) => g === 1 && walk(s2, e2, (h, s3, e3) => {
    if (h === 4) { const op = buf.toString('utf8', s3, e3); counts[op] = (counts[op] || 0) + 1; }
  })));
  return Object.entries(counts).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(', ');
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const options = {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, graphOptimizationLevel: a.opt,
    executionMode: 'sequential',
  };
  if (a.optimized) options.optimizedModelFilePath = a.optimized;
  const session = await ort.InferenceSession.create(a.model, options);
  if (a.optimized) console.log(`ops: ${countOps(a.optimized)}`);
  for (const img of readManifest(a.dir)) {
    const feeds = { [session.inputNames[0]]: inputTensor(a.dir, img) };
    if (a.bench > 0) {
      await session.run(feeds);
      const ms = [];
      for (let r = 0; r < a.bench; ++r) {
        const t0 = process.hrtime.bigint();
        await session.run(feeds);
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      ms.sort((x, y) => x - y);
      console.log(`${img.name} ${ms[Math.floor(ms.length / 2)].toFixed(2)} ms (median of ${a.bench}, ${a.threads} threads, opt ${a.opt})`);
      continue;
    }
    const out = await session.run(feeds);
    for (const [name, t] of Object.entries(out)) {
      const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      fs.writeFileSync(path.join(a.dir, `ort_${img.name}.${name}.bin`), bytes);
    }
  }
}

main().catch((e) => {
  console.error(`run_ort.js: ${e.message.split('\n')[0]}`);
  process.exit(1);
});
