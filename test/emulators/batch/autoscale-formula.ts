/**
 * The autoscale formula language, the subset the emulator evaluates (shared/notes/AZURE-BATCH.md §5
 * "Autoscale language", [DOCS:batch-automatic-scaling]); README.md lists it. In short:
 *
 * - statements `name = expr;` (≤ 100, formula ≤ 8 KB), `//` and `/* *\/` comments;
 * - numbers, 'strings', `+ - * / %`, comparisons, `&& || !`, `cond ? a : b`, parentheses;
 * - `TimeInterval_Millisecond … _Week` (intervals scale and add), `time()` / `time("iso")`;
 * - functions `avg min max sum len percentile(v,p) val(v,i)`, numbers or sample vectors as args;
 * - sample series `$ActiveTasks $RunningTasks $PendingTasks $SucceededTasks $FailedTasks` read
 *   only through `.GetSample(count | interval [, pct])`, `.GetSamplePercent(interval)`, `.Count()`;
 * - plain numbers `$CurrentDedicatedNodes $CurrentLowPriorityNodes $PreemptedNodeCount $UsableNodeCount`;
 * - outputs `$TargetDedicatedNodes` (`$TargetDedicated`), `$TargetLowPriorityNodes`
 *   (`$TargetLowPriority`), `$NodeDeallocationOption` = requeue | terminate | taskcompletion | retaineddata.
 *
 * Anything else is a syntax or evaluation error, never silently a zero.
 */
export class FormulaSyntaxError extends Error {
  override readonly name = "FormulaSyntaxError";
}
export class FormulaEvaluationError extends Error {
  override readonly name = "FormulaEvaluationError";
}

export const MAX_FORMULA_BYTES = 8 * 1024;
export const MAX_FORMULA_STATEMENTS = 100;

export const SERIES_VARIABLES = ["$ActiveTasks", "$RunningTasks", "$PendingTasks", "$SucceededTasks", "$FailedTasks"] as const;
export type SeriesName = (typeof SERIES_VARIABLES)[number];
export const NUMBER_VARIABLES = ["$CurrentDedicatedNodes", "$CurrentLowPriorityNodes", "$PreemptedNodeCount", "$UsableNodeCount"] as const;
export type NumberName = (typeof NUMBER_VARIABLES)[number];
const OUTPUT_ALIASES: Record<string, string> = {
  $TargetDedicated: "$TargetDedicatedNodes",
  $TargetLowPriority: "$TargetLowPriorityNodes",
};
const DEALLOCATION_OPTIONS = ["requeue", "terminate", "taskcompletion", "retaineddata"] as const;
export type NodeDeallocationOption = (typeof DEALLOCATION_OPTIONS)[number];

const TIME_INTERVALS: Record<string, number> = {
  TimeInterval_Zero: 0,
  TimeInterval_Millisecond: 1,
  TimeInterval_Second: 1000,
  TimeInterval_Minute: 60_000,
  TimeInterval_Hour: 3_600_000,
  TimeInterval_Day: 86_400_000,
  TimeInterval_Week: 604_800_000,
};

type Node =
  | { k: "num"; v: number }
  | { k: "str"; v: string }
  | { k: "name"; v: string }
  | { k: "unary"; op: string; a: Node }
  | { k: "binary"; op: string; a: Node; b: Node }
  | { k: "cond"; c: Node; a: Node; b: Node }
  | { k: "call"; fn: string; args: Node[] }
  | { k: "method"; target: Node; fn: string; args: Node[] };

export interface Statement {
  name: string;
  expr: Node;
}

type Value =
  | { t: "num"; v: number }
  | { t: "vec"; v: number[] }
  | { t: "interval"; ms: number }
  | { t: "time"; ms: number }
  | { t: "str"; v: string }
  | { t: "series"; name: SeriesName }
  | { t: "word"; v: string };

export interface Sample {
  atMs: number;
  value: number;
}

export interface FormulaContext {
  nowMs: number;
  /** The service samples every 30 s; the emulator's interval is configurable. */
  sampleIntervalMs: number;
  series: Readonly<Record<SeriesName, readonly Sample[]>>;
  numbers: Readonly<Record<NumberName, number>>;
}

export interface FormulaOutcome {
  targetDedicatedNodes: number;
  targetLowPriorityNodes: number;
  nodeDeallocationOption: NodeDeallocationOption;
  /** AutoScaleRun.results: "$name=value;…" in the service's format. */
  results: string;
}

// ---------------------------------------------------------------- parsing

type Tok = { k: "num"; v: number } | { k: "str"; v: string } | { k: "id"; v: string } | { k: "op"; v: string };

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
}

function lex(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const c = text[i] ?? "";
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    let m = /^\d+(\.\d+)?([eE][-+]?\d+)?/.exec(rest);
    if (m !== null) {
      out.push({ k: "num", v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    m = /^\$?[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (m !== null) {
      out.push({ k: "id", v: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new FormulaSyntaxError("unterminated string");
      out.push({ k: "str", v: text.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    m = /^(==|!=|<=|>=|&&|\|\||[-+*/%<>!?:(),.=;])/.exec(rest);
    if (m === null) throw new FormulaSyntaxError(`unexpected character '${c}'`);
    out.push({ k: "op", v: m[0] });
    i += m[0].length;
  }
  return out;
}

export function parseFormula(formula: string): Statement[] {
  if (Buffer.byteLength(formula, "utf8") > MAX_FORMULA_BYTES) throw new FormulaSyntaxError("the formula is longer than 8 KB");
  const tokens = lex(stripComments(formula));
  let p = 0;
  const peekOp = (v: string) => tokens[p]?.k === "op" && tokens[p]?.v === v;
  const take = (v: string) => {
    if (!peekOp(v)) throw new FormulaSyntaxError(`expected '${v}'`);
    p += 1;
  };
  const binaryLevel = (ops: string[], sub: () => Node) => (): Node => {
    let left = sub();
    for (;;) {
      const t = tokens[p];
      if (t?.k !== "op" || !ops.includes(t.v)) return left;
      p += 1;
      left = { k: "binary", op: t.v, a: left, b: sub() };
    }
  };
  const args = (): Node[] => {
    take("(");
    const list: Node[] = [];
    if (!peekOp(")")) {
      list.push(expr());
      while (peekOp(",")) {
        p += 1;
        list.push(expr());
      }
    }
    take(")");
    return list;
  };
  const primary = (): Node => {
    const t = tokens[p];
    if (t === undefined) throw new FormulaSyntaxError("the formula ends inside an expression");
    p += 1;
    if (t.k === "num") return { k: "num", v: t.v };
    if (t.k === "str") return { k: "str", v: t.v };
    if (t.k === "id") return peekOp("(") ? { k: "call", fn: t.v, args: args() } : { k: "name", v: t.v };
    if (t.v === "(") {
      const inner = expr();
      take(")");
      return inner;
    }
    throw new FormulaSyntaxError(`unexpected '${t.v}'`);
  };
  const postfix = (): Node => {
    let node = primary();
    while (peekOp(".")) {
      p += 1;
      const name = tokens[p];
      if (name?.k !== "id") throw new FormulaSyntaxError("expected a method name after '.'");
      p += 1;
      node = { k: "method", target: node, fn: name.v, args: args() };
    }
    return node;
  };
  const unary = (): Node => {
    if (peekOp("-") || peekOp("!")) {
      const op = (tokens[p] as { v: string }).v;
      p += 1;
      return { k: "unary", op, a: unary() };
    }
    return postfix();
  };
  const mul = binaryLevel(["*", "/", "%"], unary);
  const add = binaryLevel(["+", "-"], mul);
  const cmp = binaryLevel(["<", "<=", ">", ">=", "==", "!="], add);
  const and = binaryLevel(["&&"], cmp);
  const or = binaryLevel(["||"], and);
  function expr(): Node {
    const c = or();
    if (!peekOp("?")) return c;
    p += 1;
    const a = expr();
    take(":");
    return { k: "cond", c, a, b: expr() };
  }

  const statements: Statement[] = [];
  while (p < tokens.length) {
    if (peekOp(";")) {
      p += 1;
      continue;
    }
    const name = tokens[p];
    if (name?.k !== "id") throw new FormulaSyntaxError("a statement must start with a variable name");
    p += 1;
    take("=");
    const target = OUTPUT_ALIASES[name.v] ?? name.v;
    if ((SERIES_VARIABLES as readonly string[]).includes(target) || (NUMBER_VARIABLES as readonly string[]).includes(target)) {
      throw new FormulaSyntaxError(`${name.v} is read-only`);
    }
    statements.push({ name: target, expr: expr() });
    if (p < tokens.length) take(";");
  }
  if (statements.length > MAX_FORMULA_STATEMENTS) throw new FormulaSyntaxError("the formula has more than 100 statements");
  return statements;
}

// ---------------------------------------------------------------- evaluation

function num(value: Value, what: string): number {
  if (value.t === "num") return value.v;
  if (value.t === "series") throw new FormulaEvaluationError(`${value.name} is a sample series: read it with GetSample()`);
  throw new FormulaEvaluationError(`${what} needs a number, got a ${value.t}`);
}

function flatten(values: Value[], fn: string): number[] {
  const out: number[] = [];
  for (const value of values) {
    if (value.t === "vec") out.push(...value.v);
    else out.push(num(value, fn));
  }
  return out;
}

function samples(ctx: FormulaContext, name: SeriesName, span: Value): { values: number[]; percent: number } {
  const all = ctx.series[name];
  if (span.t === "num") {
    const count = Math.trunc(span.v);
    const values = all.slice(Math.max(0, all.length - count)).map((s) => s.value);
    return { values, percent: count === 0 ? 100 : Math.min(100, (values.length / count) * 100) };
  }
  if (span.t !== "interval") throw new FormulaEvaluationError("GetSample needs a sample count or a time interval");
  const from = ctx.nowMs - span.ms;
  const values = all.filter((s) => s.atMs >= from && s.atMs <= ctx.nowMs).map((s) => s.value);
  const expected = Math.max(1, Math.floor(span.ms / ctx.sampleIntervalMs));
  return { values, percent: Math.min(100, (values.length / expected) * 100) };
}

function evaluate(node: Node, ctx: FormulaContext, vars: Map<string, Value>): Value {
  switch (node.k) {
    case "num":
      return { t: "num", v: node.v };
    case "str":
      return { t: "str", v: node.v };
    case "name": {
      const interval = TIME_INTERVALS[node.v];
      if (interval !== undefined) return { t: "interval", ms: interval };
      if ((SERIES_VARIABLES as readonly string[]).includes(node.v)) return { t: "series", name: node.v as SeriesName };
      if ((NUMBER_VARIABLES as readonly string[]).includes(node.v)) return { t: "num", v: ctx.numbers[node.v as NumberName] };
      const known = vars.get(OUTPUT_ALIASES[node.v] ?? node.v);
      if (known !== undefined) return known;
      if ((DEALLOCATION_OPTIONS as readonly string[]).includes(node.v.toLowerCase())) return { t: "word", v: node.v.toLowerCase() };
      throw new FormulaEvaluationError(`${node.v} is not defined`);
    }
    case "unary": {
      const a = evaluate(node.a, ctx, vars);
      if (node.op === "!") return { t: "num", v: num(a, "!") === 0 ? 1 : 0 };
      if (a.t === "interval") return { t: "interval", ms: -a.ms };
      return { t: "num", v: -num(a, "-") };
    }
    case "cond":
      return num(evaluate(node.c, ctx, vars), "?:") !== 0 ? evaluate(node.a, ctx, vars) : evaluate(node.b, ctx, vars);
    case "binary":
      return binary(node.op, evaluate(node.a, ctx, vars), evaluate(node.b, ctx, vars));
    case "call":
      return call(node.fn, node.args.map((a) => evaluate(a, ctx, vars)));
    case "method": {
      const target = evaluate(node.target, ctx, vars);
      if (target.t !== "series") throw new FormulaEvaluationError(`${node.fn}() applies to a sample series only`);
      const args = node.args.map((a) => evaluate(a, ctx, vars));
      switch (node.fn) {
        case "GetSample": {
          const span = args[0];
          if (span === undefined) throw new FormulaEvaluationError("GetSample needs an argument");
          const got = samples(ctx, target.name, span);
          const pct = args[1] === undefined ? 0 : num(args[1], "GetSample");
          if (got.values.length === 0 || got.percent < pct) {
            throw new FormulaEvaluationError(`${target.name}.GetSample: not enough samples (${got.percent.toFixed(0)}% available)`);
          }
          return { t: "vec", v: got.values };
        }
        case "GetSamplePercent": {
          const span = args[0];
          if (span === undefined) throw new FormulaEvaluationError("GetSamplePercent needs an interval");
          return { t: "num", v: samples(ctx, target.name, span).percent };
        }
        case "Count":
          return { t: "num", v: ctx.series[target.name].length };
        default:
          throw new FormulaEvaluationError(`${node.fn}() is not supported by the emulator`);
      }
    }
  }
  // This line is unreachable: every node kind returns above.
  throw new FormulaEvaluationError("unknown expression");

  function call(fn: string, args: Value[]): Value {
    switch (fn) {
      case "time": {
        if (args.length === 0) return { t: "time", ms: ctx.nowMs };
        const arg = args[0];
        if (arg?.t !== "str") throw new FormulaEvaluationError("time() takes a date string");
        const ms = Date.parse(arg.v);
        if (Number.isNaN(ms)) throw new FormulaEvaluationError(`time("${arg.v}") is not a date`);
        return { t: "time", ms };
      }
      case "avg": {
        const v = flatten(args, fn);
        if (v.length === 0) throw new FormulaEvaluationError("avg() of nothing");
        return { t: "num", v: v.reduce((a, b) => a + b, 0) / v.length };
      }
      case "sum":
        return { t: "num", v: flatten(args, fn).reduce((a, b) => a + b, 0) };
      case "len":
        return { t: "num", v: flatten(args, fn).length };
      case "min":
      case "max": {
        const v = flatten(args, fn);
        if (v.length === 0) throw new FormulaEvaluationError(`${fn}() of nothing`);
        return { t: "num", v: fn === "min" ? Math.min(...v) : Math.max(...v) };
      }
      case "percentile": {
        const [vec, p] = args;
        if (vec === undefined || p === undefined) throw new FormulaEvaluationError("percentile(v, p) needs two arguments");
        const v = flatten([vec], fn).sort((a, b) => a - b);
        if (v.length === 0) throw new FormulaEvaluationError("percentile() of nothing");
        const rank = Math.min(v.length - 1, Math.max(0, Math.ceil((num(p, fn) / 100) * v.length) - 1));
        return { t: "num", v: v[rank] ?? 0 };
      }
      case "val": {
        const [vec, i] = args;
        if (vec === undefined || i === undefined) throw new FormulaEvaluationError("val(v, i) needs two arguments");
        const v = flatten([vec], fn);
        const value = v[Math.trunc(num(i, fn))];
        if (value === undefined) throw new FormulaEvaluationError("val(): index out of range");
        return { t: "num", v: value };
      }
      default:
        throw new FormulaEvaluationError(`${fn}() is not supported by the emulator`);
    }
  }
}

function binary(op: string, a: Value, b: Value): Value {
  const bool = (x: boolean): Value => ({ t: "num", v: x ? 1 : 0 });
  if (op === "&&") return bool(num(a, op) !== 0 && num(b, op) !== 0);
  if (op === "||") return bool(num(a, op) !== 0 || num(b, op) !== 0);
  // Times and intervals: time - time = interval; time ± interval = time; interval × number = interval.
  const scalar = (x: Value) => (x.t === "interval" || x.t === "time" ? x.ms : num(x, op));
  if (["<", "<=", ">", ">=", "==", "!="].includes(op)) {
    const x = scalar(a);
    const y = scalar(b);
    switch (op) {
      case "<":
        return bool(x < y);
      case "<=":
        return bool(x <= y);
      case ">":
        return bool(x > y);
      case ">=":
        return bool(x >= y);
      case "==":
        return bool(x === y);
      default:
        return bool(x !== y);
    }
  }
  if (a.t === "time" && b.t === "time" && op === "-") return { t: "interval", ms: a.ms - b.ms };
  if (a.t === "time" && b.t === "interval" && (op === "+" || op === "-")) return { t: "time", ms: op === "+" ? a.ms + b.ms : a.ms - b.ms };
  if (a.t === "interval" && b.t === "interval") {
    if (op === "+" || op === "-") return { t: "interval", ms: op === "+" ? a.ms + b.ms : a.ms - b.ms };
    if (op === "/") return { t: "num", v: a.ms / b.ms };
  }
  if (a.t === "interval" && b.t === "num" && (op === "*" || op === "/")) return { t: "interval", ms: op === "*" ? a.ms * b.v : a.ms / b.v };
  if (a.t === "num" && b.t === "interval" && op === "*") return { t: "interval", ms: a.v * b.ms };
  const x = num(a, op);
  const y = num(b, op);
  switch (op) {
    case "+":
      return { t: "num", v: x + y };
    case "-":
      return { t: "num", v: x - y };
    case "*":
      return { t: "num", v: x * y };
    case "/":
      return { t: "num", v: x / y };
    case "%":
      return { t: "num", v: x % y };
  }
  throw new FormulaEvaluationError(`unsupported operator ${op}`);
}

function show(value: Value): string {
  switch (value.t) {
    case "num":
      return String(value.v);
    case "vec":
      return `{${value.v.join(",")}}`;
    case "interval":
      return `${value.ms}ms`;
    case "time":
      return new Date(value.ms).toISOString();
    case "str":
    case "word":
      return value.v;
    case "series":
      return value.name;
  }
}

/** Runs the statements in order; the targets are truncated to whole, non-negative node counts. */
export function evaluateFormula(statements: readonly Statement[], ctx: FormulaContext): FormulaOutcome {
  const vars = new Map<string, Value>();
  for (const statement of statements) vars.set(statement.name, evaluate(statement.expr, ctx, vars));
  const target = (name: string): number => {
    const value = vars.get(name);
    if (value === undefined) return 0;
    const n = num(value, name);
    if (!Number.isFinite(n)) throw new FormulaEvaluationError(`${name} is not a finite number`);
    return Math.max(0, Math.trunc(n));
  };
  const dedicated = target("$TargetDedicatedNodes");
  const lowPriority = target("$TargetLowPriorityNodes");
  const option = vars.get("$NodeDeallocationOption");
  let deallocation: NodeDeallocationOption = "requeue";
  if (option !== undefined) {
    const word = option.t === "word" || option.t === "str" ? option.v.toLowerCase() : "";
    if (!(DEALLOCATION_OPTIONS as readonly string[]).includes(word)) {
      throw new FormulaEvaluationError(`$NodeDeallocationOption must be one of ${DEALLOCATION_OPTIONS.join(", ")}`);
    }
    deallocation = word as NodeDeallocationOption;
  }
  const parts = [`$TargetDedicatedNodes=${dedicated}`, `$TargetLowPriorityNodes=${lowPriority}`, `$NodeDeallocationOption=${deallocation}`];
  for (const [name, value] of vars) {
    if (!["$TargetDedicatedNodes", "$TargetLowPriorityNodes", "$NodeDeallocationOption"].includes(name)) parts.push(`${name}=${show(value)}`);
  }
  return { targetDedicatedNodes: dedicated, targetLowPriorityNodes: lowPriority, nodeDeallocationOption: deallocation, results: parts.join(";") };
}
