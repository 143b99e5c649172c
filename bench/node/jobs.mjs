// Case 1: N sequential job retrievals over keep-alive.
// node jobs.mjs BASE_URL N
import { client, jobId, done } from './common.mjs';

const [base, n] = process.argv.slice(2);
const c = client(base);
let got = 0;
for (let i = 0; i < Number(n); i++) {
  const job = await c.fineTuning.jobs.retrieve(jobId(i));
  if (job.id === jobId(i)) got++;
}
done(got);
