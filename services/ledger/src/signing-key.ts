import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineError } from '@affidavit/common';
import { ed25519NoteSigner, ed25519NoteVerifier, generateEd25519NoteKey } from '@affidavit/tlog';
import type { Ed25519NoteSigner, NoteVerifier } from '@affidavit/tlog';

/** SigningKeyError: the ledger's checkpoint key file exists but cannot be used. */
export const SigningKeyError = defineError('AFF_E_LEDGER_SIGNING_KEY', 'the ledger signing key file is unreadable or malformed');

/**
 * loadOrCreateSigningKey returns the Ed25519 checkpoint signer kept in `file` (the
 * golang.org/x/mod/sumdb/note `PRIVATE+KEY+…` encoding, mode 0600), creating it on first use,
 * and writes the verifier key (`name+hash+key`) to `publicFile` for `affidavit verify --key`.
 * An existing but malformed file is refused, never replaced: replacing it would orphan every
 * checkpoint signed so far.
 */
export function loadOrCreateSigningKey(file: string, publicFile: string, name: string): Ed25519NoteSigner {
  let signer: Ed25519NoteSigner;
  if (existsSync(file)) {
    try {
      signer = ed25519NoteSigner(readFileSync(file, 'utf8').trim());
    } catch (e) {
      throw new SigningKeyError(`ledger signing key ${file} is malformed: ${(e as Error).message}`, { cause: e });
    }
  } else {
    const pair = generateEd25519NoteKey(name, (n) => randomBytes(n));
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${pair.signerKey}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    signer = ed25519NoteSigner(pair.signerKey);
  }
  if (!existsSync(publicFile) || readFileSync(publicFile, 'utf8').trim() !== signer.verifierKey) {
    writeFileSync(publicFile, `${signer.verifierKey}\n`, { mode: 0o644 });
  }
  return signer;
}

/** readVerifierKey reads a verifier key file (as written by loadOrCreateSigningKey). */
export function readVerifierKey(file: string): NoteVerifier {
  try {
    return ed25519NoteVerifier(readFileSync(file, 'utf8').trim());
  } catch (e) {
    throw new SigningKeyError(`verifier key ${file} is unreadable or malformed: ${(e as Error).message}`, { cause: e });
  }
}
