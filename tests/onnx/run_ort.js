// Runs a qat ONNX export in ONNX Runtime (npm onnxruntime-node, CPU) on
// images written by the test as raw float32, and writes every output of
// the graph back as raw bytes for the test to compare with qat's engine.
//
//   node run_ort.js MODEL DIR [--threads N] [--opt disabled|basic|all] [--bench REPEATS]
//
// DIR/manifest.txt: one line per image, "NAME N C H W [int8]"; the image is
// DIR/NAME.f32 (N*C*H*W little-endian float32), or with int8 DIR/NAME.i8
// (codes, for a model exported with --integer-part). Writes DIR/ort_NAME.OUTPUT.bin
// (logits float32, codes.* int8). --bench: no files, prints the median
// milliseconds of REPEATS runs of each image (after one warm-up run).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = { model: argv[0], dir: argv[1], threads: 1, opt: 'all', bench: 0 };
  if (!a.model || !a.dir) throw new Error('usage: node run_ort.js MODEL DIR [--threads N] [--opt disabled|basic|all] [--bench REPEATS]');
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, ''), value = argv[i + 1];
    if (!(key in a) || value === undefined) throw new Error(`run_ort.js: unknown or incomplete option ${argv[i]}`);
    a[key] = key === 'opt' ? value : Number(value);
  }
  return a;
}

function readManifest(dir) {
  const text = fs.readFileSync(path.join(dir, 'manifest.txt'), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((l) => {
    const [name, n, c, h, w, type] = l.trim().split(/\s+/);
    return { name, dims: [n, c, h, w].map(Number), int8: type === 'int8' };
  });
}

function inputTensor(dir, img) {
  const file = img.name + (img.int8 ? '.i8' : '.f32'), bytes = img.int8 ? 1 : 4;
  const buf = fs.readFileSync(path.join(dir, file));
  const n = img.dims.reduce((x, y) => x * y, 1);
  if (buf.length !== bytes * n) throw new Error(`${file}: ${buf.length} bytes, expected ${bytes * n}`);
  if (img.int8) return new ort.Tensor('int8', Int8Array.from(new Int8Array(buf.buffer, buf.byteOffset, n)), img.dims);
  return new ort.Tensor('float32', Float32Array.from(new Float32Array(buf.buffer, buf.byteOffset, n)), img.dims);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, graphOptimizationLevel: a.opt,
    executionMode: 'sequential',
  });
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
