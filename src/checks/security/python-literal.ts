/**
 * A parser for the small subset of Python literals that file headers use (`.npy` headers):
 * dicts, tuples, lists, strings, integers, floats, True/False/None. Never evaluates anything.
 */

/** A parsed Python literal. Tuples and lists are both arrays. */
export type PyLiteral = string | number | boolean | null | PyLiteral[] | { [key: string]: PyLiteral };

/** A keyword or number at a given position (sticky; bounded digit runs keep it linear). */
const LITERAL_TOKEN = /(True|False|None|[-+]?\d{1,400}(\.\d{0,400})?([eE][-+]?\d{1,6})?L?)/y;

/** Parses `text` as one Python literal; throws an Error saying where it is malformed. */
export function parsePythonLiteral(text: string): PyLiteral {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r' || text[i] === '\f' || text[i] === '\v')) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at character ${i} of the header`);
  };
  const value = (): PyLiteral => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [key: string]: PyLiteral } = {};
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return obj;
        }
        const key = value();
        if (typeof key !== 'string') fail('dict key is not a string');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[key as string] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail("expected ',' or '}'");
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyLiteral[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      const q = c;
      i++;
      let s = '';
      while (i < text.length && text[i] !== q) {
        if (text[i] === '\\') {
          i++;
          s += text[i] ?? '';
        } else s += text[i];
        i++;
      }
      if (text[i] !== q) fail('unterminated string');
      i++;
      return s;
    }
    // Sticky (anchored at i, no copy of the rest of the text): linear over the whole header.
    LITERAL_TOKEN.lastIndex = i;
    const m = LITERAL_TOKEN.exec(text);
    if (!m) return fail('unexpected token');
    i += m[0].length;
    if (m[1] === 'True') return true;
    if (m[1] === 'False') return false;
    if (m[1] === 'None') return null;
    return Number(m[1]!.replace(/L$/, ''));
  };
  const result = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return result;
}
