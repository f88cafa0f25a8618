#!/usr/bin/env node
// Entry point: TypeScript sources (and .ts plugins) run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
