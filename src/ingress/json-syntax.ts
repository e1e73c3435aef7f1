/**
 * @module ingress/json-syntax
 * Whether some bytes (valid UTF-8, checked before) are one JSON text, by the
 * grammar of RFC 8259 as JSON.parse reads it, without building a value: no
 * string is decoded, no object made. The check of a large delivery's later
 * records before its first chunk is sent (publish-delivery.ts) uses it in
 * place of a JSON.parse of each record. Sound for acceptance: what it accepts,
 * JSON.parse accepts; what it refuses is parsed again by the caller, which
 * takes JSON.parse's verdict and message.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

// What comes next: a value, a value or `]`, a key or `}`, a key, a colon, after a value.
const VALUE = 0;
const VALUE_OR_CLOSE = 1;
const KEY_OR_CLOSE = 2;
const KEY = 3;
const COLON_NEXT = 4;
const AFTER = 5;

const IN_OBJECT = 1;
const IN_ARRAY = 2;

/** The escapes JSON allows after a backslash, `u` (four hex digits) apart. */
const SIMPLE_ESCAPE = new Uint8Array(128);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number) => c >= ZERO && c <= NINE;

/** Index after the closing quote of a string whose content starts at `i`; -1: not a valid string. */
const stringEnd = (b: Uint8Array, i: number, end: number): number => {
  for (let j = i; j < end; j++) {
    const c = b[j] as number;
    if (c === QUOTE) return j + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      if (j + 1 >= end) return -1;
      const e = b[j + 1] as number;
      if (e === 0x75) {
        if (j + 5 >= end) return -1;
        if (!(HEX[b[j + 2] as number] && HEX[b[j + 3] as number])) return -1;
        if (!(HEX[b[j + 4] as number] && HEX[b[j + 5] as number])) return -1;
        j += 5;
      } else if (e < 128 && SIMPLE_ESCAPE[e] === 1) {
        j += 1;
      } else {
        return -1;
      }
    }
  }
  return -1;
};

/** Index after a number starting at `i`; -1: not a valid number. */
const numberEnd = (b: Uint8Array, i: number, end: number): number => {
  let j = i;
  if (b[j] === MINUS) j++;
  if (j >= end) return -1;
  if (b[j] === ZERO) j++;
  else if (isDigit(b[j] as number)) while (j < end && isDigit(b[j] as number)) j++;
  else return -1;
  if (j < end && b[j] === DOT) {
    j++;
    if (j >= end || !isDigit(b[j] as number)) return -1;
    while (j < end && isDigit(b[j] as number)) j++;
  }
  const e = b[j];
  if (j < end && (e === 0x65 || e === 0x45)) {
    j++;
    if (j < end && (b[j] === PLUS || b[j] === MINUS)) j++;
    if (j >= end || !isDigit(b[j] as number)) return -1;
    while (j < end && isDigit(b[j] as number)) j++;
  }
  return j;
};

const literalEnd = (b: Uint8Array, i: number, end: number, word: string): number => {
  if (i + word.length > end) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
};

/** True when `b[start, end)` is exactly one JSON text (whitespace around it allowed). */
export const isJsonText = (b: Uint8Array, start = 0, end = b.length): boolean => {
  const stack: number[] = [];
  let state = VALUE;
  let i = start;
  while (i < end) {
    const c = b[i] as number;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (state === AFTER) {
      const top = stack.at(-1);
      if (top === undefined) return false; // something after the text
      if (c === COMMA) state = top === IN_OBJECT ? KEY : VALUE;
      else if ((c === CLOSE_OBJECT && top === IN_OBJECT) || (c === CLOSE_ARRAY && top === IN_ARRAY))
        stack.pop();
      else return false;
      i++;
      continue;
    }
    if (state === COLON_NEXT) {
      if (c !== COLON) return false;
      state = VALUE;
      i++;
      continue;
    }
    if (state === KEY || state === KEY_OR_CLOSE) {
      if (c === CLOSE_OBJECT && state === KEY_OR_CLOSE) {
        stack.pop();
        state = AFTER;
        i++;
        continue;
      }
      if (c !== QUOTE) return false;
      i = stringEnd(b, i + 1, end);
      if (i < 0) return false;
      state = COLON_NEXT;
      continue;
    }
    // a value (or, after `[`, the array's end)
    if (c === CLOSE_ARRAY && state === VALUE_OR_CLOSE) {
      stack.pop();
      state = AFTER;
      i++;
      continue;
    }
    if (c === OPEN_OBJECT) {
      stack.push(IN_OBJECT);
      state = KEY_OR_CLOSE;
      i++;
      continue;
    }
    if (c === OPEN_ARRAY) {
      stack.push(IN_ARRAY);
      state = VALUE_OR_CLOSE;
      i++;
      continue;
    }
    if (c === QUOTE) i = stringEnd(b, i + 1, end);
    else if (c === MINUS || isDigit(c)) i = numberEnd(b, i, end);
    else if (c === 0x74) i = literalEnd(b, i, end, 'true');
    else if (c === 0x66) i = literalEnd(b, i, end, 'false');
    else if (c === 0x6e) i = literalEnd(b, i, end, 'null');
    else return false;
    if (i < 0) return false;
    state = AFTER;
  }
  return state === AFTER && stack.length === 0;
};
