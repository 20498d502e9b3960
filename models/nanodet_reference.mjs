// RETIRED with NanoDet-g (see models/README.md): kept with convert_nanodet.py as the record of the port.
// Reference runtime for NanoDet-g: runs the TF.js graph model with the pure-JS CPU backend.
// usage: node nanodet_reference.mjs <model.json> <input.f32> <outdir>
//   input.f32: little-endian float32, shape [1,3,416,416] (NCHW, as the graph's input_1)
//   writes <outdir>/<output name>.f32 (float32 LE) and <outdir>/outputs.json (names, shapes)
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';

const [modelJson, inputPath, outDir] = process.argv.slice(2);
const g = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
const dir = path.dirname(modelJson);
const weightSpecs = g.weightsManifest.flatMap((m) => m.weights);
const bufs = g.weightsManifest.flatMap((m) => m.paths.map((p) => fs.readFileSync(path.join(dir, p))));
const all = Buffer.concat(bufs);
const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);

await tf.setBackend('cpu');
const model = await tf.loadGraphModel(tf.io.fromMemory({
  modelTopology: g.modelTopology, weightSpecs, weightData,
  format: g.format, generatedBy: g.generatedBy, convertedBy: g.convertedBy, signature: g.signature,
}));
const raw = fs.readFileSync(inputPath);
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const input = tf.tensor(data, [1, 3, 416, 416], 'float32');
const names = Object.keys(g.signature.outputs);
const t0 = Date.now();
const outs = model.execute({ 'input_1': input }, names);
fs.mkdirSync(outDir, { recursive: true });
const meta = { backend: tf.getBackend(), tfjs: tf.version.tfjs, ms: 0, outputs: [] };
for (let i = 0; i < names.length; i++) {
  const v = outs[i].dataSync();
  const file = names[i].replace(':', '_') + '.f32';
  fs.writeFileSync(path.join(outDir, file), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  meta.outputs.push({ name: names[i], shape: outs[i].shape, file });
}
meta.ms = Date.now() - t0;
fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(meta, null, 1));
console.log(JSON.stringify(meta));
