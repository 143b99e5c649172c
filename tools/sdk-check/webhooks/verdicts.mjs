// The official SDK's verdict on every case of spec/fixtures/webhook_cases.json:
// client.webhooks.unwrap(body, headers, secret, tolerance) (verifySignature for the
// cases marked mode "verify"), with the clock set to the case's `now`. Prints JSON:
// [{name, ok, check}] in case order; `check` names the SDK's message by the Lua
// error code it corresponds to (the wording of JSON.parse's errors changes with the
// Node version, so the message itself is not kept). make webhook-parity compares it with the
// committed spec/fixtures/webhook_verdicts.json, which spec/webhook_parity_spec.lua
// holds the Lua functions to. Runs on the SDK and Node that tools/sdk-check pins.
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { bigBody } from './cases-common.mjs';

// Node before 19 has WebCrypto only as require('node:crypto').webcrypto
if (typeof globalThis.crypto === 'undefined') {
  globalThis.crypto = (await import('node:crypto')).webcrypto;
}

const CHECKS = [
  [/^Missing required header: /, 'missing_header'],
  [/^Invalid webhook timestamp format$/, 'invalid_timestamp'],
  [/^Webhook timestamp is too old$/, 'timestamp_too_old'],
  [/^Webhook timestamp is too new$/, 'timestamp_too_new'],
  [/^The given webhook signature does not match the expected signature$/, 'no_valid_signature'],
];
const checkOf = (message) => {
  for (const [re, code] of CHECKS) if (re.test(message)) return code;
  return 'other';
};

const file = process.argv[2] || new URL('../../../spec/fixtures/webhook_cases.json', import.meta.url);
const { cases } = JSON.parse(readFileSync(file, 'utf8'));
const client = new OpenAI({ apiKey: 'sk-parity' });
const realNow = Date.now;
const out = [];
for (const c of cases) {
  const body = c.big ? bigBody(c.now, c.big) : c.body;
  Date.now = () => c.now * 1000;
  let ok = true;
  let check = null;
  try {
    if (c.mode === 'verify') {
      await client.webhooks.verifySignature(body, c.headers, c.secret, c.tolerance ?? 300);
    } else {
      await client.webhooks.unwrap(body, c.headers, c.secret, c.tolerance ?? 300);
    }
  } catch (e) {
    ok = false;
    check = checkOf(String(e && e.message));
  } finally {
    Date.now = realNow;
  }
  out.push({ name: c.name, ok, check });
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
