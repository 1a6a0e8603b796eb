// Test helpers that run the Go toolchain (outside src/: the tlog package itself does no I/O).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** GO is the Go toolchain binary: $GO, else /usr/local/go/bin/go, else `go` on PATH. */
export const GO = process.env.GO ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');

/** CACHE is the workspace's git-ignored build cache (tsconfig excludes .cache). */
export const CACHE = join(import.meta.dirname, '..', '.cache');

function goEnv(): NodeJS.ProcessEnv {
  // -mod=mod lets `go build` fetch the committed go.sum's modules through the module proxy.
  return { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' };
}

/** goModDownload runs `go mod download -json <module>@<version>` and returns the module's Dir in the module cache. */
export function goModDownload(module: string, version: string): string {
  const r = spawnSync(GO, ['mod', 'download', '-json', `${module}@${version}`], { encoding: 'utf8', env: goEnv(), timeout: 300_000, cwd: CACHE_DIR() });
  const info = r.stdout ? (JSON.parse(r.stdout) as { Dir?: string; Error?: string }) : {};
  if (r.status !== 0 || !info.Dir) throw new Error(`go mod download ${module}@${version} failed: ${info.Error ?? r.stderr ?? r.error}`);
  return info.Dir;
}

function CACHE_DIR(): string {
  mkdirSync(CACHE, { recursive: true });
  return CACHE;
}

/** buildTlogcheck builds test/go/tlogcheck into .cache/ and returns the binary's path. */
export function buildTlogcheck(): string {
  const src = join(import.meta.dirname, '..', '..', '..', 'test', 'go', 'tlogcheck');
  const out = join(CACHE_DIR(), 'tlogcheck');
  const r = spawnSync(GO, ['build', '-o', out, '.'], { cwd: src, encoding: 'utf8', env: goEnv(), timeout: 600_000 });
  if (r.status !== 0) throw new Error(`go build tlogcheck failed: ${r.stderr || r.error}`);
  return out;
}

/** runJson runs a binary with a JSON request on stdin and parses its JSON answer. */
export function runJson<T>(bin: string, request: unknown): T {
  const r = spawnSync(bin, [], { input: JSON.stringify(request), encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${bin} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
