// Case 2: upload one file the way the SDK's README shows (a read stream).
// node upload.mjs BASE_URL PATH
import fs from 'node:fs';
import { client, done } from './common.mjs';

const [base, path] = process.argv.slice(2);
const file = await client(base).files.create({ file: fs.createReadStream(path), purpose: 'fine-tune' });
done(file.bytes);
