// Writes spec/fixtures/webhook_cases.json: the webhook deliveries the parity check runs
// through the official SDK (verdicts.mjs) and through the Lua functions
// (spec/webhook_parity_spec.lua). Signatures are computed here with Node's own crypto
// (createHmac), independently of the module's C code. Deterministic: fixed secrets,
// ids and clock, so the file only changes when this script does.
//   make webhook-cases   (tools/sdk-check's node, then this script > spec/fixtures/webhook_cases.json)
import { createHmac } from 'node:crypto';
import { bigBody } from './cases-common.mjs';

const NOW = 1767225600; // 2026-01-01T00:00:00Z
const KEY = Buffer.from('openai-finetunes webhook parity key 1');
const KEY2 = Buffer.from('openai-finetunes webhook parity key 2');
const SECRET = 'whsec_' + KEY.toString('base64');
const SECRET2 = 'whsec_' + KEY2.toString('base64');
const ID = 'wh_685342e6c53c8190a1be43f081506c52';
const BODY = JSON.stringify({
  id: 'evt_685343a1381c819085d44c354e1b330e', object: 'event', created_at: NOW - 5,
  type: 'fine_tuning.job.succeeded', data: { id: 'ftjob-abc123' },
});

const mac = (key, id, ts, body) =>
  createHmac('sha256', key).update(id ? `${id}.${ts}.${body}` : `${ts}.${body}`, 'utf8').digest('base64');
const sig = (key, id, ts, body) => 'v1,' + mac(key, id, ts, body);
const headersFor = (ts, signature, id = ID) => ({ 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature });
const valid = (ts = NOW, body = BODY, key = KEY) => headersFor(ts, sig(key, ID, ts, body));

const cases = [];
const add = (name, c) => cases.push({ name, secret: SECRET, now: NOW, body: BODY, ...c });

add('valid', { headers: valid() });
add('valid, header names in mixed case', {
  headers: { 'Webhook-Id': ID, 'WEBHOOK-TIMESTAMP': String(NOW), 'Webhook-Signature': sig(KEY, ID, NOW, BODY) },
});
add('tampered body', { headers: valid(), body: BODY.replace('succeeded', 'cancelled') });
add('truncated body', { headers: valid(), body: BODY.slice(0, -3) });
add('wrong secret', { headers: valid(), secret: SECRET2 });
add('stale by 301 s', { headers: valid(NOW - 301) });
add('300 s old: inside the tolerance', { headers: valid(NOW - 300) });
add('301 s in the future', { headers: valid(NOW + 301) });
add('300 s in the future: inside the tolerance', { headers: valid(NOW + 300) });
add('tolerance 10: 11 s old', { headers: valid(NOW - 11), tolerance: 10 });
add('tolerance 0: same second', { headers: valid(NOW), tolerance: 0 });
add('rotated secrets: old entry first, new one valid', {
  headers: headersFor(NOW, `${sig(KEY2, ID, NOW, BODY)} ${sig(KEY, ID, NOW, BODY)}`),
});
add('rotated secrets: the receiver still holds the old one', {
  headers: headersFor(NOW, `${sig(KEY, ID, NOW, BODY)} ${sig(KEY2, ID, NOW, BODY)}`), secret: SECRET2,
});
add('several signatures, none valid', {
  headers: headersFor(NOW, `${sig(KEY2, ID, NOW, BODY)} v1,${mac(KEY, ID, NOW + 1, BODY)}`),
});
add('40 signatures, the last one valid', {
  headers: headersFor(NOW, Array.from({ length: 39 }, (_, i) => sig(KEY2, ID, NOW + i, BODY)).concat(sig(KEY, ID, NOW, BODY)).join(' ')),
});
add('40 signatures, none valid', {
  headers: headersFor(NOW, Array.from({ length: 40 }, (_, i) => sig(KEY2, ID, NOW + i, BODY)).join(' ')),
});
add('missing webhook-id', { headers: { 'webhook-timestamp': String(NOW), 'webhook-signature': sig(KEY, ID, NOW, BODY) } });
add('missing webhook-timestamp', { headers: { 'webhook-id': ID, 'webhook-signature': sig(KEY, ID, NOW, BODY) } });
add('missing webhook-signature', { headers: { 'webhook-id': ID, 'webhook-timestamp': String(NOW) } });
add('no headers at all', { headers: {} });
add('duplicated webhook-id', { headers: { ...valid(), 'webhook-id': [ID, 'wh_other'] } });
add('duplicated webhook-timestamp', { headers: { ...valid(), 'webhook-timestamp': [String(NOW), String(NOW)] } });
add('duplicated webhook-signature, the second valid', {
  headers: { ...valid(), 'webhook-signature': [sig(KEY2, ID, NOW, BODY), sig(KEY, ID, NOW, BODY)] },
});
add('bad base64 signature', { headers: headersFor(NOW, 'v1,!!!!not*base64') });
add('signature of the wrong length', { headers: headersFor(NOW, 'v1,' + Buffer.alloc(16, 7).toString('base64')) });
add('empty signature header', { headers: headersFor(NOW, '') });
add('signature without the v1, prefix', { headers: headersFor(NOW, mac(KEY, ID, NOW, BODY)) });
add('signature with a v2, prefix', { headers: headersFor(NOW, 'v2,' + mac(KEY, ID, NOW, BODY)) });
add('signature without base64 padding', { headers: headersFor(NOW, sig(KEY, ID, NOW, BODY).replace(/=+$/, '')) });
add('signature in the URL-safe alphabet', {
  headers: headersFor(NOW, sig(KEY, ID, NOW, BODY).replace(/\+/g, '-').replace(/\//g, '_')),
});
add('signature header with extra spaces', { headers: headersFor(NOW, `  ${sig(KEY, ID, NOW, BODY)}  `) });
add('timestamp not a number', { headers: headersFor('soon', sig(KEY, ID, 'soon', BODY)) });
add('timestamp with trailing text, signed as sent', {
  headers: headersFor(`${NOW}abc`, sig(KEY, ID, `${NOW}abc`, BODY)),
});
add('timestamp in milliseconds', { headers: valid(NOW * 1000) });
add('negative timestamp', { headers: valid(-NOW) });
add('empty webhook-id: signed as timestamp.body', {
  headers: headersFor(NOW, 'v1,' + mac(KEY, '', NOW, BODY), ''),
});
add('secret whose base64 holds no bytes', { headers: valid(), secret: 'whsec_!!!!' });
add('secret without the whsec_ prefix is the key itself', {
  headers: headersFor(NOW, 'v1,' + createHmac('sha256', 'plain-secret').update(`${ID}.${NOW}.${BODY}`).digest('base64')),
  secret: 'plain-secret',
});
add('signed body that is not JSON (unwrap)', {
  body: 'not json', headers: valid(NOW, 'not json'),
});
add('signed body that is not JSON (verify only)', {
  body: 'not json', headers: valid(NOW, 'not json'), mode: 'verify',
});
add('body with UTF-8 text', {
  body: BODY.replace('ftjob-abc123', 'ftjob-é✓'), headers: valid(NOW, BODY.replace('ftjob-abc123', 'ftjob-é✓')),
});
const big = bigBody(NOW, 1000000);
add('1 MB body', { body: undefined, big: 1000000, headers: valid(NOW, big) });
add('1 MB body, one byte changed', {
  body: undefined, big: 1000000, headers: valid(NOW, big.slice(0, -10) + 'y' + big.slice(-9)),
});

process.stdout.write(JSON.stringify({ now: NOW, cases }, null, 1) + '\n');
