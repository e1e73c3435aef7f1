/**
 * @module ingress/json-records-scanner
 * Finds the records array of a body, and the bounds of each record in it, by
 * walking its bytes once, block by block (a spooled body is never held whole).
 * Only strings, brackets, and the keys of the root object and of a `data` /
 * `body` envelope are followed: the records themselves are checked later by
 * JSON.parse, group by group, and everything outside the records array by
 * parsing the body with that array taken out (parse-body.ts). The candidates
 * are those of `extractRecords`: a bare array, `items`, `data.items`,
 * `body.items`; for a key given twice the last value counts, as in JSON.parse.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** An array of the body (offsets in bytes) and the bounds of its elements. */
export type ArraySpan = { start: number; end: number; starts: number[]; ends: number[] };

/** The candidates, in the precedence of extractRecords. */
const BARE = 0;
const ITEMS = 1;
const DATA_ITEMS = 2;
const BODY_ITEMS = 3;

// What a container is (only the first levels are followed).
const OTHER = 0;
const ROOT = 1;
const ENVELOPE_DATA = 2;
const ENVELOPE_BODY = 3;
const RECORDS = 4;
const FOLLOWED_DEPTH = 3;

// Where a followed object is: before a key, before its colon, before its value, after it.
const KEY = 0;
const COLON_NEXT = 1;
const VALUE = 2;
const AFTER = 3;

// Where the records array is: after `[`, after a comma, in a scalar, in a record, after one.
const FIRST = 0;
const NEXT_VALUE = 1;
const IN_SCALAR = 2;
const IN_RECORD = 3;
const AFTER_RECORD = 4;

// What the string being walked is.
const PLAIN = 0;
const KEY_STRING = 1;
const RECORD_STRING = 2;

const MAX_KEY_BYTES = 256;

/**
 * Records in one delivery above which it is refused (413): the bounds of each
 * record are kept (two numbers), and a signed body of 256 MB of `1,` would
 * otherwise hold a hundred million of them. Twenty times the largest delivery
 * measured (100,000 records).
 */
export const MAX_RECORDS = 2_000_000;

/**
 * Index of the closing quote of a string whose bytes start at `i`; n when the
 * block ends first, n + 1 when it ends just after a backslash.
 */
const stringEnd = (b: Buffer, i: number, n: number): number => {
  let j = i;
  for (; j < n; j++) {
    const c = b[j];
    if (c === QUOTE) return j;
    if (c === BACKSLASH) j++;
  }
  return j;
};

/** Where `recordEnd` stopped (kept outside to spare an object per call). */
const walked = { depth: 0, inString: false, escaped: false, ended: false };

/**
 * Walks the inside of a record from `i` (at `depth`, in a string or not)
 * until it closes back to `home` (returns the index after it, `ended`) or the
 * block ends (returns n). Only strings and brackets count: most of a body's
 * bytes go through this one loop.
 */
const recordEnd = (
  b: Buffer,
  i: number,
  n: number,
  depth: number,
  inString: boolean,
  home: number,
): number => {
  let d = depth;
  let j = i;
  walked.ended = false;
  walked.escaped = false;
  if (inString) {
    j = stringEnd(b, j, n);
    if (j >= n) {
      walked.depth = d;
      walked.inString = true;
      walked.escaped = j > n;
      return n;
    }
    j++;
  }
  for (; j < n; j++) {
    const c = b[j];
    if (c === QUOTE) {
      j = stringEnd(b, j + 1, n);
      if (j >= n) {
        walked.depth = d;
        walked.inString = true;
        walked.escaped = j > n;
        return n;
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) d++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      d--;
      if (d === home) {
        walked.ended = true;
        walked.depth = d;
        walked.inString = false;
        return j + 1;
      }
    }
  }
  walked.depth = d;
  walked.inString = false;
  return n;
};

/**
 * Walks a body block by block. `feed` each block in order, then `finish`:
 * the records array, or undefined when the scan cannot follow the body
 * (it is then parsed whole).
 */
export class RecordsScanner {
  private depth = 0;
  private readonly roles: number[] = [OTHER, OTHER, OTHER, OTHER];
  private readonly phases: number[] = [KEY, KEY, KEY, KEY];
  private readonly keys: (string | null)[] = [null, null, null, null];
  private inString = false;
  private escaped = false;
  private stringKind = PLAIN;
  private keyParts: Buffer[] = [];
  private keyLength = 0;
  private keyStartAt = 0;
  private rootDone = false;
  private broken = false;
  /** More than MAX_RECORDS records: the scan stopped. */
  tooMany = false;
  private readonly found: (ArraySpan | null)[] = [null, null, null, null];
  // the records array being walked (candidates never nest)
  private records: (ArraySpan & { slot: number; depth: number }) | null = null;
  private recordsPhase = FIRST;
  private recordStart = 0;

  /** Walks the next block; `offset` is the position of its first byte in the body. */
  feed(block: Buffer, offset: number): void {
    const n = block.length;
    let i = 0;
    if (this.inString && this.stringKind === KEY_STRING) this.keyStartAt = offset;
    if (this.escaped) {
      this.escaped = false;
      i = 1; // the byte after a backslash that ended the last block
    }
    while (i < n && !this.broken) {
      const records = this.records;
      if (records !== null && this.depth > records.depth) {
        i = recordEnd(block, i, n, this.depth, this.inString, records.depth);
        this.depth = walked.depth;
        this.inString = walked.inString;
        this.escaped = walked.escaped;
        if (walked.ended) this.endRecord(offset + i);
        continue;
      }
      if (this.inString) {
        i = this.walkString(block, i, n, offset);
        continue;
      }
      const c = block[i] as number;
      if (isSpace(c)) {
        if (this.recordsPhase === IN_SCALAR && records !== null && this.depth === records.depth) {
          this.endRecord(offset + i);
        }
      } else {
        this.onByte(c, offset + i);
      }
      i++;
    }
  }

  finish(): ArraySpan | undefined {
    if (this.broken || this.inString || this.depth !== 0 || this.records !== null) return undefined;
    const f = this.found;
    return f[BARE] ?? f[ITEMS] ?? f[DATA_ITEMS] ?? f[BODY_ITEMS] ?? undefined;
  }

  /** A string outside the records (a key, a value) or a record that is a string. */
  private walkString(block: Buffer, i: number, n: number, offset: number): number {
    const end = stringEnd(block, i, n);
    if (end >= n) {
      this.escaped = end > n;
      if (this.stringKind === KEY_STRING) {
        const part = block.subarray(Math.max(0, this.keyStartAt - offset));
        this.keyLength += part.length;
        if (this.keyLength <= MAX_KEY_BYTES) this.keyParts.push(Buffer.from(part));
      }
      return n;
    }
    if (this.stringKind === KEY_STRING) {
      const part = block.subarray(Math.max(0, this.keyStartAt - offset), end);
      this.keyLength += part.length;
      this.keyParts.push(part);
      this.setKey(this.keyLength <= MAX_KEY_BYTES ? Buffer.concat(this.keyParts) : null);
      this.keyParts = [];
      this.keyLength = 0;
    } else if (this.stringKind === RECORD_STRING) {
      this.endRecord(offset + end + 1);
    }
    this.inString = false;
    this.stringKind = PLAIN;
    return end + 1;
  }

  private setKey(raw: Buffer | null) {
    let key: string | null = null;
    if (raw !== null) {
      try {
        key = JSON.parse(`"${raw.toString('utf8')}"`) as string;
      } catch {
        key = null;
      }
    }
    if (this.depth <= FOLLOWED_DEPTH) this.keys[this.depth] = key;
  }

  private roleAt(d: number): number {
    return d <= FOLLOWED_DEPTH ? (this.roles[d] ?? OTHER) : OTHER;
  }

  private push(role: number) {
    this.depth++;
    const d = this.depth;
    if (d <= FOLLOWED_DEPTH) {
      this.roles[d] = role;
      this.phases[d] = KEY;
      this.keys[d] = null;
    }
  }

  private openRecords(slot: number, at: number) {
    this.found[slot] = null;
    this.push(RECORDS);
    this.records = { slot, depth: this.depth, start: at, end: -1, starts: [], ends: [] };
    this.recordsPhase = FIRST;
  }

  private closeRecords(at: number) {
    const records = this.records;
    if (records === null) return;
    const { slot, start, starts, ends } = records;
    this.found[slot] = { start, end: at + 1, starts, ends };
    this.records = null;
    this.depth--;
  }

  private endRecord(end: number) {
    if (this.records === null) return;
    if (this.records.starts.length >= MAX_RECORDS) {
      this.tooMany = true;
      this.broken = true;
      return;
    }
    this.records.starts.push(this.recordStart);
    this.records.ends.push(end);
    this.recordsPhase = AFTER_RECORD;
  }

  /** A value starts at `at` in a followed object (root or envelope): which role does it get? */
  private valueInObject(role: number, c: number, at: number) {
    const key = this.keys[this.depth] ?? null;
    this.phases[this.depth] = AFTER;
    if (role === ROOT && (key === 'data' || key === 'body')) {
      this.found[key === 'data' ? DATA_ITEMS : BODY_ITEMS] = null;
      if (c === OPEN_OBJECT) return this.push(key === 'data' ? ENVELOPE_DATA : ENVELOPE_BODY);
    } else if (key === 'items') {
      const slot = role === ROOT ? ITEMS : role === ENVELOPE_DATA ? DATA_ITEMS : BODY_ITEMS;
      this.found[slot] = null;
      if (c === OPEN_ARRAY) return this.openRecords(slot, at);
    }
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) this.push(OTHER);
  }

  /** One byte at the level of the records array. */
  private onRecordsByte(c: number, at: number) {
    const phase = this.recordsPhase;
    if (phase === IN_SCALAR) {
      if (c === COMMA) {
        this.endRecord(at);
        this.recordsPhase = NEXT_VALUE;
      } else if (c === CLOSE_ARRAY) {
        this.endRecord(at);
        this.closeRecords(at);
      } else if (c === QUOTE || c === OPEN_ARRAY || c === OPEN_OBJECT || c === CLOSE_OBJECT) {
        this.broken = true;
      }
      return;
    }
    if (phase === AFTER_RECORD) {
      if (c === COMMA) this.recordsPhase = NEXT_VALUE;
      else if (c === CLOSE_ARRAY) this.closeRecords(at);
      else this.broken = true;
      return;
    }
    if (c === CLOSE_ARRAY && phase === FIRST) return this.closeRecords(at);
    if (c === COMMA || c === COLON || c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      this.broken = true;
      return;
    }
    this.recordStart = at;
    if (c === QUOTE) {
      this.recordsPhase = IN_RECORD;
      this.inString = true;
      this.stringKind = RECORD_STRING;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      this.recordsPhase = IN_RECORD;
      this.push(OTHER);
    } else {
      this.recordsPhase = IN_SCALAR;
    }
  }

  /** One byte outside strings and records. */
  private onByte(c: number, at: number) {
    const depth = this.depth;
    const role = this.roleAt(depth);
    if (role === RECORDS && depth === this.records?.depth) return this.onRecordsByte(c, at);
    const followed = role === ROOT || role === ENVELOPE_DATA || role === ENVELOPE_BODY;
    const phase = followed ? this.phases[depth] : -1;
    switch (c) {
      case QUOTE:
        this.inString = true;
        this.stringKind = PLAIN;
        if (phase === KEY) {
          this.stringKind = KEY_STRING;
          this.keyStartAt = at + 1;
          this.phases[depth] = COLON_NEXT;
        } else if (phase === VALUE) {
          this.valueInObject(role, c, at);
        }
        return;
      case OPEN_ARRAY:
      case OPEN_OBJECT:
        if (depth === 0) {
          if (this.rootDone) {
            this.broken = true;
            return;
          }
          this.rootDone = true;
          if (c === OPEN_ARRAY) this.openRecords(BARE, at);
          else this.push(ROOT);
        } else if (phase === VALUE) {
          this.valueInObject(role, c, at);
        } else {
          this.push(OTHER);
        }
        return;
      case CLOSE_ARRAY:
      case CLOSE_OBJECT:
        if (depth === 0) {
          this.broken = true;
          return;
        }
        this.depth--;
        return;
      case COLON:
        if (phase === COLON_NEXT) this.phases[depth] = VALUE;
        return;
      case COMMA:
        if (followed) this.phases[depth] = KEY;
        return;
      default:
        if (depth === 0) this.rootDone = true;
        else if (phase === VALUE) this.valueInObject(role, c, at);
    }
  }
}

/** A scanner for one body. */
export const createRecordsScanner = (): RecordsScanner => new RecordsScanner();
