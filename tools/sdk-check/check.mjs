// The official Node SDK drives every operation this module covers against the fake
// server, through Prism (a validating proxy holding the official OpenAPI spec).
// Each call must succeed and each answer must conform: Prism's violations
// (`sl-violations` header) are matched against the table of documented deviations
// in lua/openai/finetunes/fake/README.md; any other one fails the check, and so does
// a documented one that never shows up (the table must stay true).
//
//   node check.mjs PRISM_URL FAKE_ENDPOINT SPEC.json README.md WORK_DIR
//
// PRISM_URL proxies to FAKE_ENDPOINT/v1; FAKE_ENDPOINT also serves /_fake/ (clock,
// job plans), called directly. Prints one line per SDK call and ends with
// "N passed, M failed" (.ci/run counts it).
import OpenAI, { toFile } from 'openai';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [, , prismURL, fakeEndpoint, specPath, readmePath, workDir] = process.argv;
if (!workDir) {
  console.error('usage: node check.mjs PRISM_URL FAKE_ENDPOINT SPEC.json README.md WORK_DIR');
  process.exit(2);
}

// ------------------------------------------------------------ documented deviations

// Rows of the README table "Where the fake follows the live API rather than the spec":
// | `METHOD /path` | `location` | why |  (location: Prism's, array indexes as *)
function deviations() {
  const text = readFileSync(readmePath, 'utf8');
  const start = text.indexOf('## Where the fake follows the live API rather than the spec');
  if (start < 0) throw new Error(`${readmePath}: no deviations section`);
  const rows = [];
  for (const line of text.slice(start).split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const m = line.match(/^\|\s*`([A-Z]+ [^`]+)`\s*\|\s*`([^`]+)`\s*\|/);
    if (m) rows.push({ op: m[1], location: m[2], seen: 0 });
  }
  return rows;
}
const documented = deviations();

// ---------------------------------------------------------------- request capture

const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const templates = Object.keys(spec.paths).map((p) => ({
  path: p,
  re: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));
const prefix = new URL(prismURL).pathname.replace(/\/$/, '');

function template(url) {
  let path = new URL(url).pathname;
  if (prefix && path.startsWith(prefix)) path = path.slice(prefix.length);
  const t = templates.find((x) => x.re.test(path));
  return t ? t.path : path;
}

let current = null; // the SDK call being made
const fetchThroughPrism = async (url, init = {}) => {
  // the SDK probes its fetch's FormData support with fetch('data:,') once: not a request
  if (String(url).startsWith('data:')) return fetch(url, init);
  const res = await fetch(url, init);
  const raw = res.headers.get('sl-violations');
  const op = `${(init.method || 'GET').toUpperCase()} ${template(String(url))}`;
  const violations = raw ? JSON.parse(raw) : [];
  current.requests.push({ op, status: res.status, violations });
  if (process.env.SDK_CHECK_VERBOSE) console.log(`       ${op} -> ${res.status}`);
  return res;
};

const client = new OpenAI({
  apiKey: 'sk-sdk-check', adminAPIKey: 'sk-admin-sdk-check', baseURL: prismURL,
  fetch: fetchThroughPrism, maxRetries: 0, timeout: 30000,
});

async function control(method, path, body) {
  const res = await fetch(fakeEndpoint + path, {
    method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
const advance = (seconds) => control('POST', '/_fake/clock', { advance: seconds });

// ------------------------------------------------------------------- the calls

const results = [];
function explain(req, v) {
  const location = v.location.map((x) => (/^\d+$/.test(String(x)) ? '*' : x)).join('.');
  const row = documented.find((d) => d.op === req.op && d.location === location);
  if (row) row.seen++;
  return { location, message: v.message, documented: !!row };
}

async function call(name, fn) {
  current = { name, requests: [] };
  let value, error;
  try {
    value = await fn();
  } catch (e) {
    error = e;
  }
  const violations = [];
  for (const req of current.requests) {
    for (const v of req.violations) violations.push({ op: req.op, ...explain(req, v) });
  }
  const unexplained = violations.filter((v) => !v.documented);
  const ok = !error && unexplained.length === 0;
  results.push({ name, ok, requests: current.requests.length, violations, error });
  const documentedCount = violations.length - unexplained.length;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${current.requests.length} request(s)` +
    (documentedCount ? `, ${documentedCount} documented deviation(s)` : '') +
    (error ? `, error: ${error.message}` : ''));
  for (const v of unexplained) console.log(`       unexplained: ${v.op} ${v.location}: ${v.message}`);
  if (error) return undefined;
  return value;
}

function expect(cond, what) {
  if (!cond) throw new Error(`unexpected answer: ${what}`);
}

// Fields the SDK's .d.ts declares optional must be absent or of their type, never
// null, unless the type says `| null`.
function optional(obj, field, type, nullable = false) {
  const v = obj[field];
  if (v === undefined) return;
  if (v === null && nullable) return;
  expect(typeof v === type, `${field} is ${v === null ? 'null' : typeof v}, the SDK types it ${type}`);
}

function checkFile(f) {
  expect(f.object === 'file' && typeof f.id === 'string' && typeof f.bytes === 'number', 'a FileObject');
  optional(f, 'expires_at', 'number');
  optional(f, 'status_details', 'string');
  return f;
}

function checkJob(j) {
  expect(j.object === 'fine_tuning.job' && typeof j.id === 'string', 'a FineTuningJob');
  expect(j.error === null || typeof j.error === 'object', 'FineTuningJob.error is an object or null');
  expect(j.integrations == null || Array.isArray(j.integrations), 'FineTuningJob.integrations is an array');
  expect(Array.isArray(j.result_files), 'FineTuningJob.result_files is an array');
  return j;
}

async function all(pagePromise, check) {
  const items = [];
  for await (const item of pagePromise) items.push(check ? check(item) : item);
  return items;
}

// ----------------------------------------------------------------------- data

const train = join(workDir, 'train.jsonl');
const dpo = join(workDir, 'dpo.jsonl');
const rft = join(workDir, 'rft.jsonl');
const lines = (n, f) => Array.from({ length: n }, (_, i) => JSON.stringify(f(i))).join('\n') + '\n';
writeFileSync(train, lines(12, (i) => ({ messages: [
  { role: 'user', content: `What is ${i} + ${i}?` }, { role: 'assistant', content: String(2 * i) }] })));
writeFileSync(dpo, lines(10, (i) => ({ input: { messages: [{ role: 'user', content: `hi ${i}` }] },
  preferred_output: [{ role: 'assistant', content: 'hello' }],
  non_preferred_output: [{ role: 'assistant', content: 'go away' }] })));
writeFileSync(rft, lines(10, (i) => ({ messages: [{ role: 'user', content: `Capital of Peru? (${i})` }],
  reference_answer: 'Lima' })));
const grader = { type: 'string_check', name: 'exact', input: '{{ sample.output_text }}',
  reference: '{{ item.reference_answer }}', operation: 'eq' };

// ------------------------------------------------------------------------ run

// the job clock barely moves by itself: the check moves it (advance) where it must
await control('POST', '/_fake/reset', { speed: 0.001 });

// files
const trainFile = await call('files.create (fs.createReadStream)', async () =>
  checkFile(await client.files.create({ file: createReadStream(train), purpose: 'fine-tune' })));
const dpoFile = await call('files.create (toFile)', async () =>
  checkFile(await client.files.create({ file: await toFile(readFileSync(dpo), 'dpo.jsonl'), purpose: 'fine-tune' })));
const rftFile = await call('files.create (rft data)', async () =>
  checkFile(await client.files.create({ file: createReadStream(rft), purpose: 'fine-tune' })));
await call('files.waitForProcessing', async () =>
  checkFile(await client.files.waitForProcessing(trainFile.id, { pollInterval: 50, maxWait: 10000 })));
await call('files.list (auto-pagination, limit 2)', async () => {
  const files = await all(client.files.list({ limit: 2 }), checkFile);
  expect(files.length === 3, `3 files, got ${files.length}`);
});
await call('files.retrieve', async () => checkFile(await client.files.retrieve(trainFile.id)));
await call('files.content', async () => {
  const res = await client.files.content(trainFile.id);
  expect((await res.text()) === readFileSync(train, 'utf8'), 'the bytes uploaded');
});

// uploads
const bytes = readFileSync(train);
const upload = await call('uploads.create', () => client.uploads.create({
  bytes: bytes.length, filename: 'train.jsonl', mime_type: 'text/jsonl', purpose: 'fine-tune' }));
const half = Math.floor(bytes.length / 2);
const part1 = await call('uploads.parts.create (1 of 2)', () =>
  client.uploads.parts.create(upload.id, { data: new Blob([bytes.subarray(0, half)]) }));
const part2 = await call('uploads.parts.create (2 of 2)', async () =>
  client.uploads.parts.create(upload.id, { data: await toFile(bytes.subarray(half), 'part') }));
await call('uploads.complete', async () => {
  const done = await client.uploads.complete(upload.id, { part_ids: [part1.id, part2.id] });
  expect(done.status === 'completed' && done.file, 'a completed upload with its file');
  checkFile(done.file);
});
await call('uploads.cancel', async () => {
  const u = await client.uploads.create({ bytes: 10, filename: 'x.jsonl', mime_type: 'text/jsonl',
    purpose: 'fine-tune' });
  const c = await client.uploads.cancel(u.id);
  expect(c.status === 'cancelled', 'a cancelled upload');
});
await call('files.delete', async () => {
  const f = await client.files.create({ file: await toFile(Buffer.from('x'), 'x.txt'), purpose: 'batch' });
  const d = await client.files.delete(f.id);
  expect(d.deleted === true && d.id === f.id, 'deleted');
});

// jobs
const sft = await call('fine_tuning.jobs.create (supervised)', async () => checkJob(
  await client.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: trainFile.id,
    validation_file: trainFile.id, suffix: 'sdk-check', seed: 7, metadata: { run: 'sdk-check' },
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2 } } } })));
const dpoJob = await call('fine_tuning.jobs.create (dpo)', async () => checkJob(
  await client.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: dpoFile.id,
    method: { type: 'dpo', dpo: { hyperparameters: { beta: 0.2 } } } })));
const rftJob = await call('fine_tuning.jobs.create (reinforcement)', async () => checkJob(
  await client.fineTuning.jobs.create({ model: 'o4-mini', training_file: rftFile.id,
    validation_file: rftFile.id, method: { type: 'reinforcement', reinforcement: { grader } } })));
await call('fine_tuning.jobs.list (auto-pagination, limit 2)', async () => {
  const jobs = await all(client.fineTuning.jobs.list({ limit: 2 }), checkJob);
  expect(jobs.length === 3, `3 jobs, got ${jobs.length}`);
});
await call('fine_tuning.jobs.list (metadata filter)', async () => {
  const jobs = await all(client.fineTuning.jobs.list({ metadata: { run: 'sdk-check' } }), checkJob);
  expect(jobs.length === 1 && jobs[0].id === sft.id, 'only the job with that metadata');
});
await advance(2.01); // validated (1 s) and queued (1 s): running
await call('fine_tuning.jobs.pause', async () => {
  const j = checkJob(await client.fineTuning.jobs.pause(sft.id));
  expect(j.status === 'paused', `paused, got ${j.status}`);
});
await call('fine_tuning.jobs.resume', async () => checkJob(await client.fineTuning.jobs.resume(sft.id)));
await call('fine_tuning.jobs.cancel', async () => {
  const j = checkJob(await client.fineTuning.jobs.cancel(dpoJob.id));
  expect(j.status === 'cancelled', `cancelled, got ${j.status}`);
});
await advance(3600);
const done = await call('fine_tuning.jobs.retrieve', async () => {
  const j = checkJob(await client.fineTuning.jobs.retrieve(sft.id));
  expect(j.status === 'succeeded' && j.fine_tuned_model, `succeeded, got ${j.status}`);
  return j;
});
await call('fine_tuning.jobs.retrieve (reinforcement, succeeded)', async () => {
  const j = checkJob(await client.fineTuning.jobs.retrieve(rftJob.id));
  expect(j.status === 'succeeded', `succeeded, got ${j.status}`);
});
await call('fine_tuning.jobs.listEvents (auto-pagination, limit 5)', async () => {
  const events = await all(client.fineTuning.jobs.listEvents(sft.id, { limit: 5 }));
  expect(events.length > 10 && events.some((e) => e.type === 'metrics'), 'events with metrics');
});
const checkpoints = await call('fine_tuning.jobs.checkpoints.list (auto-pagination, limit 1)', async () => {
  const list = await all(client.fineTuning.jobs.checkpoints.list(sft.id, { limit: 1 }));
  expect(list.length >= 2, `checkpoints, got ${list.length}`);
  return list;
});

// checkpoint permissions
const ckpt = checkpoints ? checkpoints[0].fine_tuned_model_checkpoint : 'none';
const created = await call('fine_tuning.checkpoints.permissions.create', async () => {
  const page = await client.fineTuning.checkpoints.permissions.create(ckpt, { project_ids: ['proj_a', 'proj_b'] });
  expect(page.data.length === 2, 'two permissions');
  return page.data;
});
await call('fine_tuning.checkpoints.permissions.list (auto-pagination, limit 1)', async () => {
  const list = await all(client.fineTuning.checkpoints.permissions.list(ckpt, { limit: 1 }));
  expect(list.length === 2, `two permissions, got ${list.length}`);
});
await call('fine_tuning.checkpoints.permissions.retrieve (deprecated)', async () => {
  const r = await client.fineTuning.checkpoints.permissions.retrieve(ckpt, { project_id: 'proj_a' });
  expect(r.object === 'list' && r.data.length === 1, 'one permission');
});
await call('fine_tuning.checkpoints.permissions.delete', async () => {
  const d = await client.fineTuning.checkpoints.permissions.delete(created[0].id,
    { fine_tuned_model_checkpoint: ckpt });
  expect(d.deleted === true, 'deleted');
});

// graders
await call('fine_tuning.alpha.graders.run', async () => {
  const r = await client.fineTuning.alpha.graders.run({ grader, model_sample: 'Lima',
    item: { reference_answer: 'Lima' } });
  expect(r.reward === 1, `reward 1, got ${r.reward}`);
});
await call('fine_tuning.alpha.graders.validate', () => client.fineTuning.alpha.graders.validate({ grader }));

// models
await call('models.list (auto-pagination)', async () => {
  const models = await all(client.models.list());
  expect(models.some((m) => m.id === done.fine_tuned_model), 'the fine-tuned model is listed');
});
await call('models.retrieve', async () => {
  const m = await client.models.retrieve(done.fine_tuned_model);
  expect(m.id === done.fine_tuned_model, 'the model');
});
await call('models.delete', async () => {
  const d = await client.models.delete(done.fine_tuned_model);
  expect(d.deleted === true, 'deleted');
});

// 2026: job creation refused to organisations the wind-down excludes
await call('fine_tuning.jobs.create (403 training_not_available)', async () => {
  await control('POST', '/_fake/training', { available: false });
  try {
    await client.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: trainFile.id });
  } catch (e) {
    expect(e instanceof OpenAI.PermissionDeniedError && e.code === 'training_not_available',
      `PermissionDeniedError training_not_available, got ${e.constructor.name} ${e.code}`);
    return;
  } finally {
    await control('POST', '/_fake/training', { available: true });
  }
  throw new Error('the job was created');
});

// ---------------------------------------------------------------------- report

const stale = documented.filter((d) => d.seen === 0);
for (const d of stale) console.log(`FAIL documented deviation never seen: ${d.op} ${d.location}`);
const failed = results.filter((r) => !r.ok).length + stale.length;
const requests = results.reduce((n, r) => n + r.requests, 0);
console.log(`${results.length} SDK calls, ${requests} requests, ` +
  `${documented.length} documented deviations (${documented.filter((d) => d.seen).length} seen)`);
console.log(`${results.length - results.filter((r) => !r.ok).length} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
