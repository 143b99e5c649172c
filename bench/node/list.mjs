// Case 4: walk every job with the SDK's auto-pagination.
// node list.mjs BASE_URL PAGE_SIZE
import { client, done } from './common.mjs';

const [base, limit] = process.argv.slice(2);
let n = 0;
for await (const job of client(base).fineTuning.jobs.list({ limit: Number(limit) })) {
  if (job.object === 'fine_tuning.job') n++;
}
done(n);
