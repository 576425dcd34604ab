import { queryError } from "./batch-error.js";

/**
 * The `$filter` subset that Batch documents for list operations (shared/notes/AZURE-BATCH.md §3
 * "Task List $filter", [ODATA]): `prop op literal` with eq/ne/gt/ge/lt/le, `startswith(prop,'x')`,
 * combined with `and`/`or` and parentheses. Literals: 'string' (quote doubled to escape),
 * DateTime'iso', numbers. Anything outside the subset, and any property or operator a resource does
 * not allow, is refused with 400 InvalidQueryParameterValue, so the emulator never answers a
 * filter the service might not.
 */
export type FilterValueType = "string" | "id" | "enum" | "datetime" | "number";
export type FilterOperator = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "startswith";

export interface FilterProperty<T> {
  type: FilterValueType;
  operators: readonly FilterOperator[];
  get: (entity: T) => string | number | Date | undefined;
}

export type FilterSchema<T> = Readonly<Record<string, FilterProperty<T>>>;
export type Predicate<T> = (entity: T) => boolean;

type Token =
  | { kind: "word"; text: string }
  | { kind: "string"; text: string }
  | { kind: "datetime"; text: string }
  | { kind: "number"; value: number }
  | { kind: "punct"; text: "(" | ")" | "," };

const COMPARISONS = ["eq", "ne", "gt", "ge", "lt", "le"] as const;

function tokenize(text: string, fail: (reason: string) => Error): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const quoted = (start: number): [string, number] => {
    let value = "";
    let j = start + 1;
    for (;;) {
      if (j >= text.length) throw fail("unterminated string literal");
      if (text[j] === "'") {
        if (text[j + 1] === "'") {
          value += "'";
          j += 2;
          continue;
        }
        return [value, j + 1];
      }
      value += text[j];
      j += 1;
    }
  };
  while (i < text.length) {
    const c = text[i] ?? "";
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === "(" || c === ")" || c === ",") {
      tokens.push({ kind: "punct", text: c });
      i += 1;
    } else if (c === "'") {
      const [value, next] = quoted(i);
      tokens.push({ kind: "string", text: value });
      i = next;
    } else if (/[-0-9]/.test(c)) {
      const match = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (match === null) throw fail(`unexpected '${c}'`);
      tokens.push({ kind: "number", value: Number(match[0]) });
      i += match[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const match = /^[A-Za-z_$][A-Za-z0-9_/$]*/.exec(text.slice(i));
      const word = match?.[0] ?? c;
      i += word.length;
      if (word === "DateTime" && text[i] === "'") {
        const [value, next] = quoted(i);
        tokens.push({ kind: "datetime", text: value });
        i = next;
      } else {
        tokens.push({ kind: "word", text: word });
      }
    } else {
      throw fail(`unexpected '${c}'`);
    }
  }
  return tokens;
}

export function compileFilter<T>(text: string, schema: FilterSchema<T>): Predicate<T> {
  const fail = (reason: string) => queryError("$filter", text, reason);
  const tokens = tokenize(text, fail);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => {
    const token = tokens[pos];
    if (token === undefined) throw fail("the filter ends too early");
    pos += 1;
    return token;
  };
  const expectPunct = (p: "(" | ")" | ",") => {
    const token = next();
    if (token.kind !== "punct" || token.text !== p) throw fail(`expected '${p}'`);
  };
  const isWord = (token: Token | undefined, word: string) =>
    token?.kind === "word" && token.text.toLowerCase() === word;

  const property = (name: string, operator: FilterOperator): FilterProperty<T> => {
    const prop = schema[name];
    if (prop === undefined) throw fail(`'${name}' is not a filterable property of this resource`);
    if (!prop.operators.includes(operator)) throw fail(`'${operator}' is not supported on '${name}'`);
    return prop;
  };

  const literal = (prop: FilterProperty<T>, name: string): string | number => {
    const token = next();
    switch (prop.type) {
      case "datetime": {
        if (token.kind !== "datetime") throw fail(`'${name}' must be compared with DateTime'<iso-8601>'`);
        const ms = Date.parse(token.text);
        if (Number.isNaN(ms)) throw fail(`'${token.text}' is not a valid DateTime`);
        return ms;
      }
      case "number":
        if (token.kind !== "number") throw fail(`'${name}' must be compared with a number`);
        return token.value;
      default:
        if (token.kind !== "string") throw fail(`'${name}' must be compared with a quoted string`);
        return prop.type === "string" ? token.text : token.text.toLowerCase();
    }
  };

  const normalize = (prop: FilterProperty<T>, value: string | number | Date | undefined) => {
    if (value === undefined) return undefined;
    if (value instanceof Date) return value.getTime();
    if (prop.type === "datetime" && typeof value === "string") return Date.parse(value);
    return typeof value === "string" && prop.type !== "string" ? value.toLowerCase() : value;
  };

  const comparison = (): Predicate<T> => {
    const token = next();
    if (token.kind !== "word") throw fail("expected a property name");
    if (token.text.toLowerCase() === "startswith") {
      expectPunct("(");
      const nameToken = next();
      if (nameToken.kind !== "word") throw fail("startswith needs a property name");
      const prop = property(nameToken.text, "startswith");
      expectPunct(",");
      const prefix = literal(prop, nameToken.text);
      expectPunct(")");
      if (typeof prefix !== "string") throw fail("startswith needs a string");
      return (entity) => {
        const value = normalize(prop, prop.get(entity));
        return typeof value === "string" && value.startsWith(prefix);
      };
    }
    const opToken = next();
    const op = opToken.kind === "word" ? opToken.text.toLowerCase() : "";
    if (!(COMPARISONS as readonly string[]).includes(op)) throw fail(`expected a comparison after '${token.text}'`);
    const operator = op as (typeof COMPARISONS)[number];
    const prop = property(token.text, operator);
    const expected = literal(prop, token.text);
    return (entity) => {
      const actual = normalize(prop, prop.get(entity));
      if (actual === undefined) return operator === "ne";
      switch (operator) {
        case "eq":
          return actual === expected;
        case "ne":
          return actual !== expected;
        case "gt":
          return actual > expected;
        case "ge":
          return actual >= expected;
        case "lt":
          return actual < expected;
        case "le":
          return actual <= expected;
      }
    };
  };

  const primary = (): Predicate<T> => {
    const token = peek();
    if (token?.kind === "punct" && token.text === "(") {
      next();
      const inner = disjunction();
      expectPunct(")");
      return inner;
    }
    return comparison();
  };
  const conjunction = (): Predicate<T> => {
    let left = primary();
    while (isWord(peek(), "and")) {
      next();
      const a = left;
      const b = primary();
      left = (entity) => a(entity) && b(entity);
    }
    return left;
  };
  function disjunction(): Predicate<T> {
    let left = conjunction();
    while (isWord(peek(), "or")) {
      next();
      const a = left;
      const b = conjunction();
      left = (entity) => a(entity) || b(entity);
    }
    return left;
  }

  const predicate = disjunction();
  if (pos !== tokens.length) throw fail("unexpected text after the end of the filter");
  return predicate;
}
