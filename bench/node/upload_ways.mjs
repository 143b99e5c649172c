// Case 2, the Node SDK's other ways to hand over a file from disk:
//   tofile     toFile(fs.createReadStream(path), name): a web File, read whole first
//   streaming  toStreamingFile(fs.createReadStream(path), name): encoded lazily as
//              the request is sent ("without reading it into memory", its doc comment)
// (fs.createReadStream alone is upload.mjs, the SDK README's way.)
// node upload_ways.mjs BASE_URL PATH tofile|streaming
import fs from 'node:fs';
import path from 'node:path';
import { toFile, toStreamingFile } from 'openai';
import { client, done } from './common.mjs';

const [base, file, way] = process.argv.slice(2);
const name = path.basename(file);
let upload;
if (way === 'tofile') {
  upload = await toFile(fs.createReadStream(file), name);
} else if (way === 'streaming') {
  upload = toStreamingFile(fs.createReadStream(file), name);
} else {
  throw new Error(`way must be tofile or streaming, got ${way}`);
}
const created = await client(base).files.create({ file: upload, purpose: 'fine-tune' });
done(created.bytes);
