// What both browser tests need: the `earshot` binary run on a workspace, a free port, and
// `earshot serve` started and answering.

import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const earshotBin = process.env.EARSHOT_BIN || path.resolve(here, '../../target/debug/earshot');
const run = promisify(execFile);

export async function earshot(workspace, ...args) {
  try {
    return await run(earshotBin, ['--dir', workspace, ...args], { timeout: 120_000 });
  } catch (error) {
    throw new Error(`earshot ${args.join(' ')} failed: ${error.stderr || error.message}`);
  }
}

// Runs earshot with `input` on stdin (the password of `earshot user add`).
export async function earshotWithInput(workspace, input, ...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(earshotBin, ['--dir', workspace, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0
      ? resolve(output)
      : reject(new Error(`earshot ${args.join(' ')} failed (${code}): ${output}`))));
    child.stdin.end(input);
  });
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Resolves with the child once `earshot serve` answers /healthz; rejects if it exits first.
export async function startServer(workspace, port, extraArgs = []) {
  const child = spawn(earshotBin, ['--dir', workspace, 'serve', ...extraArgs, '--addr', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((_, reject) => {
    child.once('exit', (code) => reject(new Error(`earshot serve exited (${code}):\n${output}`)));
  });
  const ready = (async () => {
    for (let attempt = 0; attempt < 600; attempt += 1) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (response.ok) return;
      } catch {
        // Not accepting connections yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`earshot serve did not answer:\n${output}`);
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => {});
  return child;
}
