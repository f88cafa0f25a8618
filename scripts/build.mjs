// npm run build: tsc to dist/ (tsconfig.build.json), then the files tsc does
// not emit (plain .mjs hooks, JSON schemas beside their modules), and a stamp
// the launcher compares with the sources to know the build is current.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

function copyExtras(dir) {
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) copyExtras(rel);
    else if (/\.(mjs|json)$/.test(name)) cpSync(join(root, rel), join(root, 'dist', rel));
  }
}
copyExtras('src');
copyExtras('models');

// The topology schema compiled once here (ajv standalone), so route and matrix start without ajv.
const require = createRequire(import.meta.url);
const { Ajv2020 } = require('ajv/dist/2020.js');
const standaloneCode = require('ajv/dist/standalone').default;
const ajv = new Ajv2020({ allErrors: false, strict: false, code: { source: true } });
const schema = JSON.parse(readFileSync(join(root, 'src', 'topology', 'topology.schema.json'), 'utf8'));
writeFileSync(join(root, 'dist', 'src', 'topology', 'topology.validate.cjs'), standaloneCode(ajv, ajv.compile(schema)));
writeFileSync(join(root, 'dist', '.built'), `${new Date().toISOString()}\n`);
