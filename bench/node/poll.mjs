// Case 5: N job polls against a server that answers each after 50 ms,
// one after another ("seq") or all at once with Promise.all ("all").
// node poll.mjs BASE_URL N seq|all
import { client, jobId, done } from './common.mjs';

const [base, n, mode] = process.argv.slice(2);
const c = client(base);
const ids = Array.from({ length: Number(n) }, (_, i) => jobId(i));
let jobs;
if (mode === 'all') {
  jobs = await Promise.all(ids.map((id) => c.fineTuning.jobs.retrieve(id)));
} else {
  jobs = [];
  for (const id of ids) jobs.push(await c.fineTuning.jobs.retrieve(id));
}
done(jobs.filter((job, i) => job.id === ids[i]).length);
