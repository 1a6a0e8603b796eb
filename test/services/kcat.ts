// kcat (librdkafka's command-line client) as an independent reader of what the bus wrote:
// an e2e test that reads the bus's output with a non-kafkajs client proves the bytes on
// the broker are what other consumers (SIEMs, other languages) will see.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** findKcat returns the path of `kcat` (or its old name `kafkacat`) on PATH, or undefined when neither is installed (Debian package `kcat`). */
export function findKcat(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin'])) {
    for (const name of ['kcat', 'kafkacat']) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** KcatRecord is one record as kcat printed it; key and value are the exact bytes (null for a null key/value). */
export type KcatRecord = {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
};

/**
 * KCAT_FORMAT frames each record binary-safely: a text header line with the key and
 * value LENGTHS (%K, %S; -1 for null), then exactly that many raw bytes of key and value.
 * Delimiter-based output (-D, -K) is not binary safe: Avro bytes may contain any delimiter.
 */
export const KCAT_FORMAT = '%t %p %o %T %K %S\\n%k%s';

/**
 * parseKcatFrames parses kcat output written with KCAT_FORMAT. It throws on a truncated or
 * malformed frame rather than guessing.
 */
export function parseKcatFrames(out: Buffer): KcatRecord[] {
  const records: KcatRecord[] = [];
  let pos = 0;
  while (pos < out.length) {
    const nl = out.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`kcat output: header without newline at byte ${pos}`);
    const fields = out.subarray(pos, nl).toString('utf8').split(' ');
    if (fields.length !== 6) throw new Error(`kcat output: bad header ${JSON.stringify(fields.join(' ').slice(0, 200))}`);
    const [topic, partition, offset, timestamp, keyLen, valueLen] = fields;
    const kl = Number(keyLen);
    const vl = Number(valueLen);
    if (!Number.isInteger(kl) || !Number.isInteger(vl) || kl < -1 || vl < -1) throw new Error(`kcat output: bad lengths in ${fields.join(' ')}`);
    pos = nl + 1;
    const need = Math.max(kl, 0) + Math.max(vl, 0);
    if (pos + need > out.length) throw new Error(`kcat output: frame at offset ${offset} truncated`);
    const key = kl < 0 ? null : Buffer.from(out.subarray(pos, pos + kl));
    pos += Math.max(kl, 0);
    const value = vl < 0 ? null : Buffer.from(out.subarray(pos, pos + vl));
    pos += Math.max(vl, 0);
    records.push({ topic, partition: Number(partition), offset: BigInt(offset), timestamp: Number(timestamp), key, value });
  }
  return records;
}

/**
 * kcatConsume reads `count` records of `topic` from the beginning with kcat (`-C -o
 * beginning -e -c count`), binary-safe, and returns them. Rejects when kcat is missing,
 * fails, or does not finish within `timeoutMs`.
 */
export function kcatConsume(opts: { bootstrap: string; topic: string; count: number; timeoutMs?: number; partition?: number }): Promise<KcatRecord[]> {
  const kcat = findKcat();
  if (!kcat) return Promise.reject(new Error('kcat is not installed (Debian package "kcat")'));
  const args = ['-b', opts.bootstrap, '-C', '-t', opts.topic, '-o', 'beginning', '-e', '-q', '-c', String(opts.count), '-f', KCAT_FORMAT];
  if (opts.partition !== undefined) args.push('-p', String(opts.partition));
  return new Promise((resolve, reject) => {
    execFile(kcat, args, { encoding: 'buffer', timeout: opts.timeoutMs ?? 30_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`kcat failed: ${err.message}\n${stderr.toString('utf8')}`));
      try {
        resolve(parseKcatFrames(stdout));
      } catch (e) {
        reject(e);
      }
    });
  });
}
