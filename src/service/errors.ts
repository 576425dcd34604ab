import { Code, ConnectError } from "@connectrpc/connect";
import { TaskStoreError } from "../store/store-errors.js";

/**
 * Every error the TES service answers with, in one registry (after Fastify's lib/errors.js): each
 * has a stable name for logs and tests, a Connect code that the edges map to an HTTP status
 * (invalid_argument 400, not_found 404, aborted 409, internal 500), and a message that names the
 * field at fault. Messages never repeat a URL, an environment value or a backend parameter value,
 * since those may carry credentials.
 */
export class TesError extends ConnectError {
  constructor(
    /** The registry name, e.g. "TES_PATH_NOT_ABSOLUTE". */
    readonly errorName: string,
    message: string,
    code: Code,
  ) {
    super(message, code);
  }
}

export interface TesErrorFactory<Args extends unknown[]> {
  (...args: Args): TesError;
  readonly errorName: string;
  readonly code: Code;
}

function defineError<Args extends unknown[]>(
  errorName: string,
  code: Code,
  format: (...args: Args) => string,
): TesErrorFactory<Args> {
  const factory = (...args: Args) => new TesError(errorName, format(...args), code);
  return Object.assign(factory, { errorName, code });
}

/** A value quoted for a message, shortened so that a huge input cannot make a huge error. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}

const invalid = Code.InvalidArgument;

export const errors = {
  // Task shape.
  fieldRequired: defineError("TES_FIELD_REQUIRED", invalid, (field: string) => `${field} is required`),
  executorsRequired: defineError(
    "TES_EXECUTORS_REQUIRED",
    invalid,
    () => "executors is required: a task needs at least one executor",
  ),
  emptyProgram: defineError(
    "TES_EMPTY_PROGRAM",
    invalid,
    (field: string) => `${field} must not be empty: it names the program to run`,
  ),
  whitespaceInImage: defineError(
    "TES_IMAGE_HAS_WHITESPACE",
    invalid,
    (field: string) => `${field} must be an image reference without whitespace`,
  ),
  nulCharacter: defineError("TES_NUL_CHARACTER", invalid, (field: string) => `${field} must not contain NUL characters`),

  // Container paths.
  pathNotAbsolute: defineError(
    "TES_PATH_NOT_ABSOLUTE",
    invalid,
    (field: string, value: string) => `${field} must be an absolute path, got ${quote(value)}`,
  ),
  pathHasParentSegment: defineError(
    "TES_PATH_HAS_PARENT_SEGMENT",
    invalid,
    (field: string, value: string) => `${field} must not contain ".." segments, got ${quote(value)}`,
  ),
  pathIsRoot: defineError(
    "TES_PATH_IS_ROOT",
    invalid,
    (field: string) => `${field} must not be the root directory "/"`,
  ),
  duplicatePath: defineError(
    "TES_DUPLICATE_PATH",
    invalid,
    (field: string, other: string) => `${field} is the same path as ${other}`,
  ),
  duplicateInputPath: defineError(
    "TES_DUPLICATE_INPUT_PATH",
    invalid,
    (field: string, other: string) => `${field} is the same path as ${other}, from another source (url, content, type and streamable must all match)`,
  ),

  // Inputs and outputs.
  inputSourceMissing: defineError(
    "TES_INPUT_SOURCE_MISSING",
    invalid,
    (field: string) => `${field} needs a url or a non-empty content`,
  ),
  contentForDirectory: defineError(
    "TES_CONTENT_FOR_DIRECTORY",
    invalid,
    (field: string) => `${field}.content cannot be used with type DIRECTORY: content is one file`,
  ),
  pathPrefixRequired: defineError(
    "TES_PATH_PREFIX_REQUIRED",
    invalid,
    (field: string) => `${field}.path_prefix is required when ${field}.path has wildcards (*, ?, [...])`,
  ),
  pathPrefixMismatch: defineError(
    "TES_PATH_PREFIX_MISMATCH",
    invalid,
    (field: string) => `${field}.path_prefix must be a prefix of ${field}.path`,
  ),
  pathPrefixHasWildcards: defineError(
    "TES_PATH_PREFIX_HAS_WILDCARDS",
    invalid,
    (field: string) => `${field}.path_prefix must not contain wildcards: it is removed from each match literally`,
  ),
  unknownEnumValue: defineError(
    "TES_UNKNOWN_ENUM_VALUE",
    invalid,
    (field: string, value: number, allowed: readonly string[]) =>
      `${field} must be one of ${allowed.join(", ")}, got ${value}`,
  ),

  // Resources.
  negativeNumber: defineError(
    "TES_NEGATIVE_NUMBER",
    invalid,
    (field: string, value: number) => `${field} must not be negative, got ${value}`,
  ),
  notFinite: defineError("TES_NOT_FINITE", invalid, (field: string) => `${field} must be a finite number`),
  unsupportedBackendParameters: defineError(
    "TES_UNSUPPORTED_BACKEND_PARAMETERS",
    invalid,
    (keys: readonly string[], supported: readonly string[]) =>
      `resources.backend_parameters has ${keys.length === 1 ? "a key" : "keys"} this service does not support ` +
      `(backend_parameters_strict is set): ${keys.map((key) => quote(key)).join(", ")}; supported: ` +
      (supported.length === 0 ? "none" : supported.join(", ")),
  ),
  duplicateBackendParameter: defineError(
    "TES_DUPLICATE_BACKEND_PARAMETER",
    invalid,
    (first: string, second: string) =>
      `resources.backend_parameters has both ${quote(first)} and ${quote(second)}: keys are case-insensitive`,
  ),

  // Environment and tags.
  badEnvName: defineError(
    "TES_BAD_ENV_NAME",
    invalid,
    (field: string, name: string) => `${field} has a variable name ${quote(name)} that is empty or contains "=" or NUL`,
  ),

  // Limits.
  tooMany: defineError(
    "TES_TOO_MANY_ITEMS",
    invalid,
    (field: string, max: number, got: number) => `${field} must have at most ${max} entries, got ${got}`,
  ),
  tooLong: defineError(
    "TES_TOO_LONG",
    invalid,
    (field: string, maxBytes: number, gotBytes: number) =>
      `${field} must be at most ${maxBytes} bytes, got ${gotBytes}`,
  ),
  totalTooLarge: defineError(
    "TES_TOTAL_TOO_LARGE",
    invalid,
    (what: string, maxBytes: number, gotBytes: number) =>
      `${what} must total at most ${maxBytes} bytes, got ${gotBytes}`,
  ),

  // Listing.
  pageSizeTooLarge: defineError(
    "TES_PAGE_SIZE_TOO_LARGE",
    invalid,
    (max: number, got: number) => `page_size must be at most ${max}, got ${got}`,
  ),
  pageSizeNegative: defineError(
    "TES_PAGE_SIZE_NEGATIVE",
    invalid,
    (got: number) => `page_size must not be negative, got ${got} (leave it out or send 0 for the default)`,
  ),
  /** The store checks page tokens (it writes them); its message names page_token and never echoes it. */
  pageTokenInvalid: defineError("TES_PAGE_TOKEN_INVALID", invalid, (storeMessage: string) => storeMessage),
  tagValuesWithoutKeys: defineError(
    "TES_TAG_VALUES_WITHOUT_KEYS",
    invalid,
    (keys: number, values: number) =>
      `tag_value has ${values} entries but tag_key has only ${keys}; values are paired with keys by position`,
  ),

  // Task lookups and changes.
  refusedByBackend: defineError(
    "TES_REFUSED_BY_BACKEND",
    invalid,
    (problems: readonly string[]) => problems.join("; "),
  ),

  taskNotFound: defineError("TES_TASK_NOT_FOUND", Code.NotFound, (id: string) => `task ${quote(id)} not found`),
  terminalState: defineError("TES_TERMINAL_STATE", Code.FailedPrecondition, (storeMessage: string) => storeMessage),
  concurrentUpdate: defineError(
    "TES_CONCURRENT_UPDATE",
    Code.Aborted,
    (id: string, attempts: number) =>
      `task ${quote(id)} was changed by someone else ${attempts} times in a row; try again`,
  ),

  // Anything unexpected: the details go to the server log, never to the client.
  internal: defineError(
    "TES_INTERNAL",
    Code.Internal,
    (rpc: string) => `${rpc} failed because of an internal error; the details are in the server log`,
  ),
} as const;

/**
 * The TesError for a store error that means something to the client, or undefined for one that
 * is a fault on our side (a duplicate id) and must be logged and answered as internal.
 */
export function fromStoreError(error: unknown): TesError | undefined {
  if (!(error instanceof TaskStoreError)) return undefined;
  switch (error.code) {
    case "invalid_page_token":
      return errors.pageTokenInvalid(error.message);
    case "terminal_state":
      return errors.terminalState(error.message);
    default:
      return undefined;
  }
}
