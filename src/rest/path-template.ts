/**
 * A `google.api.http` path template, compiled for matching. Supported: literal segments,
 * single-segment variables (`{id}`, `{task.id}`, `{id=*}`) and a custom verb (`/tasks/{id}:cancel`).
 * Anything else fails at start-up with the template in the message, never at request time.
 */
export type TemplateSegment =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "variable"; readonly fieldPath: readonly string[] };

export interface PathTemplate {
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
  readonly verb: string | undefined;
}

export function parsePathTemplate(source: string): PathTemplate {
  const fail = (why: string) => new Error(`unsupported google.api.http path template "${source}": ${why}`);
  if (!source.startsWith("/")) throw fail("it must start with /");
  let path = source.slice(1);
  let verb: string | undefined;
  const lastSlash = path.lastIndexOf("/");
  const lastColon = path.lastIndexOf(":");
  if (lastColon > lastSlash && lastColon > path.lastIndexOf("}")) {
    verb = path.slice(lastColon + 1);
    path = path.slice(0, lastColon);
    if (!/^[A-Za-z0-9_.~-]+$/.test(verb)) throw fail("bad custom verb");
  }
  const segments = path === "" ? [] : path.split("/").map((part): TemplateSegment => {
    const variable = /^\{([A-Za-z_][A-Za-z0-9_.]*)(?:=\*)?\}$/.exec(part);
    if (variable?.[1] !== undefined) return { kind: "variable", fieldPath: variable[1].split(".") };
    if (/^[A-Za-z0-9_.~-]+$/.test(part)) return { kind: "literal", value: part };
    throw fail(`segment "${part}" is not a literal or a single-segment variable`);
  });
  return { source, segments, verb };
}

/** Variable values by dotted field path, percent-decoded; undefined when the path does not match. */
export type PathBindings = ReadonlyArray<readonly [fieldPath: readonly string[], value: string]>;

/** Matches a request path (already split on "/", not yet decoded) against the template. */
export function matchPathTemplate(template: PathTemplate, rawSegments: readonly string[]): PathBindings | undefined {
  if (rawSegments.length !== template.segments.length) return undefined;
  const bindings: Array<readonly [readonly string[], string]> = [];
  for (let i = 0; i < rawSegments.length; i++) {
    let raw = rawSegments[i] as string;
    const segment = template.segments[i] as TemplateSegment;
    if (template.verb !== undefined && i === rawSegments.length - 1) {
      const rest = stripVerb(raw, template.verb);
      if (rest === undefined) return undefined;
      raw = rest;
    }
    const value = decodeSegment(raw);
    if (value === undefined) return undefined;
    if (segment.kind === "literal") {
      if (value !== segment.value) return undefined;
    } else {
      if (value === "") return undefined;
      bindings.push([segment.fieldPath, value]);
    }
  }
  if (template.verb !== undefined && rawSegments.length === 0) return undefined;
  return bindings;
}

/** "abc:cancel" or "abc%3Acancel" -> "abc"; undefined when the verb is not there. */
function stripVerb(raw: string, verb: string): string | undefined {
  if (raw.endsWith(`:${verb}`)) return raw.slice(0, -verb.length - 1);
  const encoded = raw.length - verb.length - 3;
  if (encoded >= 0 && raw.slice(encoded, encoded + 3).toUpperCase() === "%3A" && raw.endsWith(verb)) {
    return raw.slice(0, encoded);
  }
  return undefined;
}

function decodeSegment(raw: string): string | undefined {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * Orders templates so that the more specific wins when two match the same path: at the first
 * segment where they differ, a literal beats a variable; then a template with a verb beats one
 * without.
 */
export function compareSpecificity(a: PathTemplate, b: PathTemplate): number {
  const length = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const rankA = a.segments[i]?.kind === "literal" ? 0 : 1;
    const rankB = b.segments[i]?.kind === "literal" ? 0 : 1;
    if (rankA !== rankB) return rankA - rankB;
  }
  return (a.verb === undefined ? 1 : 0) - (b.verb === undefined ? 1 : 0);
}
