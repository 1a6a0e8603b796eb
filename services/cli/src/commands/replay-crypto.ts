// Encryption of replay bundles to an analyst's age key (https://age-encryption.org/v1, X25519
// recipients, through the `age-encryption` package). age authenticates every 64 KiB chunk and
// marks the last one, so a flipped or cut ciphertext fails to decrypt; the ledger proofs inside
// then catch whoever re-encrypts an edited bundle to the same (public) recipient.
import { createReadStream, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { defineError } from '@affidavit/common';
import { MAX_REPLAY_LINE_BYTES, ReplayBundleMalformedError } from '@affidavit/replay';
import { UsageError } from '../command.ts';

/** ReplayBundleKeyError: the bundle is not encrypted to the identity given. */
export const ReplayBundleKeyError = defineError('AFF_E_REPLAY_BUNDLE_KEY', 'the replay bundle is not encrypted to this identity');
/** ReplayBundleDecryptError: the bundle's ciphertext does not decrypt (altered, cut, or not an age file). */
export const ReplayBundleDecryptError = defineError('AFF_E_REPLAY_BUNDLE_DECRYPT', 'the replay bundle cannot be decrypted');

const RECIPIENT = /^age1[0-9a-z]{20,}$/;
const IDENTITY = /^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]{20,}$/;

/** newAnalystKey makes an X25519 age identity and its recipient (the public half, `age1…`). */
export async function newAnalystKey(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** keyLines reads the non-comment lines of a key file (age's format: `#` comments, one key a line). */
function keyLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** recipientFrom accepts an `age1…` recipient, or a file holding one (as `replay keygen` writes it). */
export function recipientFrom(arg: string, cwd: string): string {
  if (RECIPIENT.test(arg)) return arg;
  let text: string;
  try {
    text = readFileSync(resolve(cwd, arg), 'utf8');
  } catch {
    throw new UsageError(`--recipient: ${JSON.stringify(arg.slice(0, 100))} is neither an age recipient (age1…) nor a readable file`);
  }
  const found = keyLines(text).filter((l) => RECIPIENT.test(l));
  if (found.length !== 1) throw new UsageError(`--recipient: ${arg} must hold exactly one age recipient (age1…), found ${found.length}`);
  return found[0];
}

/** identityFrom reads an age identity file (AGE-SECRET-KEY-1…); the key itself never goes on a command line. */
export function identityFrom(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--identity: cannot read ${file}: ${(e as Error).message}`);
  }
  const found = keyLines(text).filter((l) => IDENTITY.test(l));
  if (found.length !== 1) throw new UsageError(`--identity: ${file} must hold exactly one age identity (AGE-SECRET-KEY-1…), found ${found.length}`);
  return found[0];
}

/** encryptLines encrypts a stream of text lines to `recipient`, as a stream of age ciphertext. */
export async function encryptLines(lines: AsyncIterable<string>, recipient: string): Promise<ReadableStream<Uint8Array>> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  const plain = Readable.toWeb(
    Readable.from(
      (async function* () {
        for await (const l of lines) yield Buffer.from(l, 'utf8');
      })(),
    ),
  ) as ReadableStream<Uint8Array>;
  return e.encrypt(plain);
}

/**
 * decryptLines decrypts the age file at `path` with `identity` and yields its plaintext lines
 * (without the newline). Fails with ReplayBundleKeyError when the file is not encrypted to the
 * identity, ReplayBundleDecryptError when its ciphertext was altered or cut, and
 * ReplayBundleMalformedError for a line over MAX_REPLAY_LINE_BYTES.
 */
export async function* decryptLines(path: string, identity: string): AsyncIterable<string> {
  const d = new Decrypter();
  d.addIdentity(identity);
  let plain: ReadableStream<Uint8Array>;
  try {
    plain = await d.decrypt(Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>);
  } catch (e) {
    const msg = (e as Error).message;
    if (/no identity matched/.test(msg))
      throw new ReplayBundleKeyError(
        `${path} is not encrypted to the identity given (${await identityToRecipient(identity)}); use the identity it was exported for`,
      );
    throw new ReplayBundleDecryptError(`${path} is not a readable age file: ${msg}`, { cause: e });
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let lineNo = 0;
  try {
    for await (const chunk of plain as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        lineNo++;
        yield pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      if (pending.length > MAX_REPLAY_LINE_BYTES) throw new ReplayBundleMalformedError(`line ${lineNo + 1} is longer than ${MAX_REPLAY_LINE_BYTES} bytes`);
    }
    pending += decoder.decode();
  } catch (e) {
    if ((e as { code?: string }).code === ReplayBundleMalformedError.code) throw e;
    throw new ReplayBundleDecryptError(`${path} was altered or cut after line ${lineNo}: ${(e as Error).message}`, { cause: e });
  }
  if (pending.length > 0) yield pending;
}
