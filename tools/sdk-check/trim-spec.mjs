// Cuts the official OpenAPI spec down to the operations this module covers (files,
// uploads, fine-tuning, models) and the components they reference, unchanged, so
// Prism loads it in seconds instead of a minute. Made openapi-subset.json (see
// README.md here). Usage: node trim-spec.mjs SPEC.yaml OUT.json
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

const [, , input, output] = process.argv;
if (!input || !output) {
  console.error('usage: node trim-spec.mjs SPEC.yaml OUT.json');
  process.exit(2);
}
const spec = parse(readFileSync(input, 'utf8'), { maxAliasCount: -1 });
const COVERED = /^\/(files|uploads|fine_tuning|models)(\/|$)/;

const paths = {};
for (const [path, item] of Object.entries(spec.paths)) {
  if (COVERED.test(path)) paths[path] = item;
}

// every #/components/<kind>/<name> reachable from the kept paths
const keep = new Set();
const todo = [paths];
while (todo.length) {
  const node = todo.pop();
  if (Array.isArray(node)) { todo.push(...node); continue; }
  if (!node || typeof node !== 'object') continue;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/')) {
      if (!keep.has(v)) {
        keep.add(v);
        const [, , kind, name] = v.split('/');
        todo.push(spec.components[kind][name]);
      }
    } else {
      todo.push(v);
    }
  }
}
const components = { securitySchemes: spec.components.securitySchemes };
for (const ref of keep) {
  const [, , kind, name] = ref.split('/');
  (components[kind] ??= {})[name] = spec.components[kind][name];
}
const out = { openapi: spec.openapi, info: spec.info, servers: spec.servers, security: spec.security, paths, components };
writeFileSync(output, JSON.stringify(out, null, 1) + '\n');
console.error(`trim-spec: ${Object.keys(paths).length} paths, ${keep.size} components -> ${output}`);
