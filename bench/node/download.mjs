// Case 3: download a file's content to disk, streamed (not buffered whole).
// node download.mjs BASE_URL FILE_ID OUT
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { client, done } from './common.mjs';

const [base, id, out] = process.argv.slice(2);
const response = await client(base).files.content(id);
await pipeline(Readable.fromWeb(response.body), fs.createWriteStream(out));
done(fs.statSync(out).size);
