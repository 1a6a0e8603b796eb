/** FeedNote is one signed note read from a file of published checkpoints, with where it starts. */
export type FeedNote = { note: string; line: number };

/**
 * parseCheckpointFeed splits a file of published checkpoints into signed notes. The format is
 * what `kcat -C -t affidavit.checkpoints.v1 -e -f '%s\n'` prints: signed notes one after
 * another, each its text, one blank line, then its signature lines (each starting with "— ");
 * blank lines between notes are ignored. A note ends at the first line after its signatures
 * that is not a signature line. A note without signature lines is an error naming its line
 * (thrown as `malformed(message)`).
 * SPEC: https://c2sp.org/signed-note "the text is followed by a blank line and one or more signature lines"
 */
export function parseCheckpointFeed(lines: Iterable<string>, malformed: (message: string) => Error): FeedNote[] {
  const out: FeedNote[] = [];
  let body: string[] = [];
  let sigs: string[] = [];
  let start = 0;
  let inSigs = false;
  let lineNo = 0;
  const finish = () => {
    if (body.length === 0) return;
    if (sigs.length === 0) throw malformed(`line ${start}: a checkpoint without signature lines (a blank line, then lines starting with "— ")`);
    out.push({ note: `${body.join('\n')}\n\n${sigs.join('\n')}\n`, line: start });
    body = [];
    sigs = [];
    inSigs = false;
  };
  for (const raw of lines) {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (inSigs) {
      if (line.startsWith('\u2014 ')) {
        sigs.push(line);
        continue;
      }
      if (sigs.length > 0) finish();
      else if (line === '') continue;
      else throw malformed(`line ${lineNo}: expected a signature line (starting with "— ") after the blank line of the checkpoint at line ${start}`);
    }
    if (line === '') {
      if (body.length > 0) inSigs = true;
      continue;
    }
    if (body.length === 0) start = lineNo;
    body.push(line);
  }
  if (inSigs || body.length > 0) finish();
  return out;
}
