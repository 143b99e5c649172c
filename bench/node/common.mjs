// Shared by the Node SDK cases: one client, configured like a user would.
import OpenAI from 'openai';

export function client(baseURL) {
  return new OpenAI({ apiKey: 'sk-bench-not-a-real-key', baseURL });
}

export function jobId(i) {
  return 'ftjob-bench' + String(i % 10000).padStart(5, '0');
}

export function done(what) {
  process.stdout.write(`ok ${what}\n`);
}
