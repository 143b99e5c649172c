// What both sides build the same way: the 1 MB case's body (not stored in the JSON file).
// spec/webhook_parity_spec.lua builds the same bytes (big_body there).
export function bigBody(now, size) {
  const head = `{"id":"evt_big","object":"event","created_at":${now},"type":"fine_tuning.job.succeeded","data":{"id":"ftjob-big","pad":"`;
  const tail = '"}}';
  return head + 'x'.repeat(size - head.length - tail.length) + tail;
}
