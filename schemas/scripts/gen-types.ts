#!/usr/bin/env node
// gen-types: writes src/generated/events.ts from avro/**/*.avsc.
// Usage: node scripts/gen-types.ts [--check]   (--check exits 1 when the file is out of date)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderTypes } from '../src/render-types.ts';

const out = join(import.meta.dirname, '..', 'src', 'generated', 'events.ts');
if (process.argv.includes('--help')) {
  console.log(
    'usage: node scripts/gen-types.ts [--check]\nRegenerates schemas/src/generated/events.ts from schemas/avro; --check only compares (exit 1 on drift).',
  );
  process.exit(0);
}
const text = renderTypes();
if (process.argv.includes('--check')) {
  const current = readFileSync(out, 'utf8');
  if (current !== text) {
    console.error('schemas/src/generated/events.ts is out of date: run `npm run gen`');
    process.exit(1);
  }
  console.log('generated types are up to date');
} else {
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}
