// One pass over the config text before JSON.parse, for what JSON.parse does not say:
//  - where a syntax error is (V8's messages do not always carry a position, an operator needs the line);
//  - duplicate keys, which JSON.parse silently resolves to the last one ("interface" twice: the
//    second wins and `las run` uses an interface the operator did not mean);
//  - nesting deeper than any config needs, refused before anything walks the tree.
// It keeps its own stack instead of recursing, so 100 000 levels of "[[[[" cannot overflow it.

/** No LAS config nests deeper than 7 (services[].servers[].healthCheck.expectStatus[]); the rest is margin. */
export const MAX_DEPTH = 32;
/** Duplicates reported by name; past this only counted (each costs a line in the output). */
export const MAX_DUPLICATES_SHOWN = 20;

export type PathPart = string | number;

export interface DuplicateKey {
  path: PathPart[]; // of the repeated key, e.g. ["services", 1, "servers", 0, "address"]
  firstOffset: number;
  secondOffset: number;
}

export interface JsonScan {
  syntax?: { offset: number; message: string; tooDeep?: true }; // the first syntax error, or nesting past MAX_DEPTH
  duplicates: DuplicateKey[]; // the first MAX_DUPLICATES_SHOWN
  duplicateCount: number;
}

type Frame =
  | { kind: 'object'; keys: Map<string, number>; key: string }
  | { kind: 'array'; index: number };

class Stop {
  constructor(readonly offset: number, readonly message: string, readonly tooDeep = false) {}
}

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const AFTER_NUMBER = /[\w.]/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

export function scanJson(text: string): JsonScan {
  const duplicates: DuplicateKey[] = [];
  let duplicateCount = 0;
  const stack: Frame[] = [];
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new Stop(at, message);
  };
  const show = (at: number) => (at >= text.length ? 'the end of the file' : text[at] === '"' ? 'a string' : JSON.stringify(text[at]));
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
    if (text.startsWith('//', i) || text.startsWith('/*', i)) fail('comments are not allowed in JSON');
  };
  const sticky = (re: RegExp, at: number): string | undefined => {
    re.lastIndex = at;
    return re.exec(text)?.[0];
  };

  /** Skips a string starting at its opening quote; returns whether it holds an escape. */
  const string = (): boolean => {
    i++;
    let escaped = false;
    for (;;) {
      if (i >= text.length) fail('unterminated string (missing closing ")');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return escaped;
      }
      if (c < 0x20) fail('line break or control character inside a string (missing closing "?)');
      if (c === 0x5c) {
        escaped = true;
        const e = text[i + 1];
        if (e === 'u' && sticky(HEX4, i + 2) !== undefined) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('invalid escape in a string');
      } else i++;
    }
  };

  const scalar = () => {
    const c = text[i];
    if (c === '"') return void string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      const m = sticky(NUMBER, i);
      if (m === undefined || m === '-') fail('invalid number');
      i += m!.length;
      if (sticky(AFTER_NUMBER, i) !== undefined) fail('invalid number (leading zeros, hex and trailing characters are not JSON)');
      return;
    }
    for (const word of ['true', 'false', 'null']) if (text.startsWith(word, i)) return void (i += word.length);
    if (c === "'") fail('strings need double quotes, not single quotes');
    fail(`expected a value but found ${show(i)}`);
  };

  const open = (frame: Frame) => {
    if (stack.length >= MAX_DEPTH) throw new Stop(i, `nested deeper than ${MAX_DEPTH} levels; a LAS config nests at most 7 (services, servers, healthCheck): is this the right file?`, true);
    stack.push(frame);
    i++;
  };

  /** Reads `"key":` in the object on top of the stack, noting a repeated key. */
  const key = (frame: Extract<Frame, { kind: 'object' }>) => {
    ws();
    if (text[i] !== '"') fail(text[i] === '}' ? 'trailing comma before "}"' : `expected a double-quoted key but found ${show(i)}`);
    const start = i;
    const escaped = string();
    const raw = text.slice(start + 1, i - 1);
    // "\u0061" and "a" are the same key to JSON.parse.
    const name = escaped ? (JSON.parse(text.slice(start, i)) as string) : raw;
    const first = frame.keys.get(name);
    if (first === undefined) frame.keys.set(name, start);
    else if (duplicateCount++ < MAX_DUPLICATES_SHOWN) duplicates.push({ path: [...pathOf(stack), name], firstOffset: first, secondOffset: start });
    frame.key = name;
    ws();
    if (text[i] !== ':') fail(`expected ":" after the key but found ${show(i)}`);
    i++;
  };

  try {
    // Each turn reads one value; containers push a frame and the turn after reads their first member.
    for (;;) {
      ws();
      const c = text[i];
      if (c === '{') {
        const frame: Frame = { kind: 'object', keys: new Map(), key: '' };
        open(frame);
        ws();
        if (text[i] !== '}') {
          key(frame);
          continue;
        }
        i++;
        stack.pop();
      } else if (c === '[') {
        open({ kind: 'array', index: 0 });
        ws();
        if (text[i] !== ']') continue;
        i++;
        stack.pop();
      } else scalar();

      // After a value: close every container that ends here, then go on with the next member.
      let next = false;
      while (!next && stack.length > 0) {
        const top = stack[stack.length - 1]!;
        ws();
        const d = text[i];
        if (d === ',') {
          i++;
          if (top.kind === 'object') key(top);
          else {
            top.index++;
            ws();
            if (text[i] === ']') fail('trailing comma before "]"');
          }
          next = true;
        } else if (top.kind === 'object' && d === '}') {
          i++;
          stack.pop();
        } else if (top.kind === 'array' && d === ']') {
          i++;
          stack.pop();
        } else {
          const close = top.kind === 'object' ? '}' : ']';
          fail(`expected "," or "${close}" after a value but found ${show(i)} (missing comma?)`);
        }
      }
      if (next) continue;
      ws();
      if (i < text.length) fail(`unexpected ${show(i)} after the end of the JSON value`);
      return { duplicates, duplicateCount };
    }
  } catch (error) {
    if (error instanceof Stop) {
      return { syntax: { offset: error.offset, message: error.message, ...(error.tooDeep ? { tooDeep: true as const } : {}) }, duplicates, duplicateCount };
    }
    throw error;
  }
}

function pathOf(stack: readonly Frame[]): PathPart[] {
  // The top frame is the object holding the repeated key: its own key is not part of the path.
  return stack.slice(0, -1).map((f) => (f.kind === 'object' ? f.key : f.index));
}

/** 1-based line and column of an offset; one pass per call, called for a handful of places. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < offset; at = text.indexOf('\n', at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
