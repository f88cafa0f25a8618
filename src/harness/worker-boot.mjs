// The first module of a pool worker, plain JavaScript: running from source,
// it registers the TypeScript loader in this thread before the worker's
// TypeScript entry loads (a worker does not inherit the parent's loader).
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
