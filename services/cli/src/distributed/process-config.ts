// Loading the configuration of one distributed-mode process: one YAML file, then `AFFIDAVIT_*`
// environment overrides, validated against the process's JSON Schema (defaults filled in by the
// schema itself), relative paths resolved against the file's folder. Pure apart from reading the file.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigInvalidError, deepFreeze, validateOptions } from '@affidavit/common';

/** EnvOverride maps one environment variable onto a config field. `list` splits on commas. */
export type EnvOverride = { readonly env: string; readonly path: readonly string[]; readonly type: 'string' | 'integer' | 'list' };

/** ProcessConfigSpec is what one process contributes: its schema, its overrides and its path fields. */
export type ProcessConfigSpec = {
  /** name prefixes every validation message (`proxy.upstream.port: must be <= 65535`). */
  readonly name: string;
  readonly schema: Record<string, unknown>;
  readonly env: readonly EnvOverride[];
  /** paths are the fields holding file names, resolved against the config file's folder. */
  readonly paths: readonly (readonly string[])[];
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** readConfigFile parses a YAML (or JSON) file holding a mapping; every failure names the file. */
export function readConfigFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new ConfigInvalidError(`config file ${file} does not exist`);
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (e) {
    throw new ConfigInvalidError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new ConfigInvalidError(`config file ${file} must hold a mapping at top level`);
  return parsed;
}

/**
 * applyEnvOverrides writes every set override into `config` (in place). An integer that does not
 * parse is refused naming the variable; the schema checks the rest.
 */
export function applyEnvOverrides(config: Record<string, unknown>, overrides: readonly EnvOverride[], env: NodeJS.ProcessEnv): void {
  for (const o of overrides) {
    const raw = env[o.env];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (o.type === 'integer') {
      value = Number(raw);
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigInvalidError(`${o.env}=${raw}: must be an integer`);
    } else if (o.type === 'list') {
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    }
    let node = config;
    for (const p of o.path.slice(0, -1)) {
      if (!isObject(node[p])) node[p] = {};
      node = node[p] as Record<string, unknown>;
    }
    node[o.path.at(-1)!] = value;
  }
}

/** validateProcessConfig validates a merged config (file + env) and resolves its path fields against baseDir (not frozen yet). */
export function validateProcessConfig<T>(spec: ProcessConfigSpec, input: Record<string, unknown>, baseDir: string): Readonly<T> {
  const valid = structuredClone(validateOptions<T>(spec.schema, input, { name: spec.name })) as Record<string, unknown>;
  for (const path of spec.paths) {
    let node = valid;
    for (const p of path.slice(0, -1)) {
      if (!isObject(node[p])) break;
      node = node[p] as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    const v = node[last];
    if (typeof v === 'string') node[last] = isAbsolute(v) ? v : resolve(baseDir, v);
    else if (Array.isArray(v)) node[last] = v.map((s: unknown) => (typeof s === 'string' && !isAbsolute(s) ? resolve(baseDir, s) : s));
  }
  return valid as Readonly<T>;
}

/** loadProcessConfig reads `file`, applies the environment overrides and validates the result. */
export function loadProcessConfig<T>(
  spec: ProcessConfigSpec,
  opts: { file: string; cwd: string; env: NodeJS.ProcessEnv },
): Readonly<T> & { configFile: string } {
  const configFile = resolve(opts.cwd, opts.file);
  const raw = readConfigFile(configFile);
  applyEnvOverrides(raw, spec.env, opts.env);
  return deepFreeze({ ...validateProcessConfig<T>(spec, raw, resolve(configFile, '..')), configFile });
}
