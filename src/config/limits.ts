import { EnvReader, type Env } from "./env-reader.js";

/**
 * The limits a task and a list request must respect. Every one is explicit, has a default sized
 * for real workflows, and can be changed with the TES_MAX_* variable named beside it. Sizes of
 * strings are counted in UTF-8 bytes, the unit the store and the wire pay for.
 *
 * The server's MAX_REQUEST_BODY_BYTES must leave room for maxTotalInputContentBytes (JSON-escaped)
 * plus the rest of the task, or large inline inputs are refused before they reach validation.
 */
export interface LimitsConfig {
  /** TES_MAX_EXECUTORS (default 64): executors in one task. */
  readonly maxExecutors: number;
  /** TES_MAX_INPUTS (default 1000): inputs in one task. */
  readonly maxInputs: number;
  /** TES_MAX_OUTPUTS (default 1000): outputs in one task. */
  readonly maxOutputs: number;
  /** TES_MAX_VOLUMES (default 100): volumes in one task. */
  readonly maxVolumes: number;
  /** TES_MAX_INPUT_CONTENT_BYTES (default 1 MiB, at least 128 KiB as TES requires): one input's content. */
  readonly maxInputContentBytes: number;
  /**
   * TES_MAX_TOTAL_INPUT_CONTENT_BYTES (default 2 MiB): all inputs' content together. Kept at half
   * the server's default MAX_REQUEST_BODY_BYTES (4 MiB), since JSON escaping can double content.
   */
  readonly maxTotalInputContentBytes: number;
  /** TES_MAX_TAGS (default 100): tags on one task, and tag filters in one list request. */
  readonly maxTags: number;
  /** TES_MAX_TAG_KEY_BYTES (default 256). */
  readonly maxTagKeyBytes: number;
  /** TES_MAX_TAG_VALUE_BYTES (default 4096). */
  readonly maxTagValueBytes: number;
  /** TES_MAX_ENV_VARS (default 1000): environment variables of one executor. */
  readonly maxEnvVars: number;
  /** TES_MAX_ENV_NAME_BYTES (default 1024). */
  readonly maxEnvNameBytes: number;
  /** TES_MAX_ENV_VALUE_BYTES (default 32 KiB). */
  readonly maxEnvValueBytes: number;
  /** TES_MAX_ENV_TOTAL_BYTES (default 256 KiB): names and values of one executor's environment. */
  readonly maxEnvTotalBytes: number;
  /** TES_MAX_COMMAND_ARGS (default 4096): arguments of one executor's command. */
  readonly maxCommandArgs: number;
  /** TES_MAX_COMMAND_BYTES (default 256 KiB): one executor's command, all arguments together. */
  readonly maxCommandBytes: number;
  /** TES_MAX_IMAGE_BYTES (default 1024): an executor's image reference. */
  readonly maxImageBytes: number;
  /** TES_MAX_PATH_BYTES (default 4096, Linux PATH_MAX): any container path. */
  readonly maxPathBytes: number;
  /** TES_MAX_URL_BYTES (default 8192): an input or output URL (SAS URLs are long). */
  readonly maxUrlBytes: number;
  /** TES_MAX_NAME_BYTES (default 1024): names (task, input, output), zones, and ListTasks' name_prefix. */
  readonly maxNameBytes: number;
  /** TES_MAX_DESCRIPTION_BYTES (default 64 KiB): a task's, an input's or an output's description. */
  readonly maxDescriptionBytes: number;
  /** TES_MAX_ZONES (default 64): resources.zones entries. */
  readonly maxZones: number;
  /** TES_MAX_BACKEND_PARAMETERS (default 64): resources.backend_parameters entries. */
  readonly maxBackendParameters: number;
  /** TES_MAX_BACKEND_PARAMETER_VALUE_BYTES (default 4096). */
  readonly maxBackendParameterValueBytes: number;
  /** TES_DEFAULT_PAGE_SIZE (default 256, as TES says): ListTasks' page size when none is given. */
  readonly defaultPageSize: number;
  /** TES_MAX_PAGE_SIZE (default and upper bound 2047: TES says "less than 2048"). */
  readonly maxPageSize: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** TES: implementations must support input content of at least 128 KiB. */
export const TES_MIN_INPUT_CONTENT_BYTES = 128 * KiB;
/** TES: page_size "must be less than 2048". */
export const TES_PAGE_SIZE_CEILING = 2047;

export function loadLimitsConfig(env: Env): LimitsConfig {
  const read = new EnvReader(env);
  const count = (name: string, fallback: number) => read.integer(name, fallback, { min: 1 });
  const bytes = (name: string, fallback: number, min = 1) => read.integer(name, fallback, { min });

  const maxInputContentBytes = bytes("TES_MAX_INPUT_CONTENT_BYTES", 1 * MiB, TES_MIN_INPUT_CONTENT_BYTES);
  const maxPageSize = read.integer("TES_MAX_PAGE_SIZE", TES_PAGE_SIZE_CEILING, { min: 1, max: TES_PAGE_SIZE_CEILING });
  return {
    maxExecutors: count("TES_MAX_EXECUTORS", 64),
    maxInputs: count("TES_MAX_INPUTS", 1000),
    maxOutputs: count("TES_MAX_OUTPUTS", 1000),
    maxVolumes: count("TES_MAX_VOLUMES", 100),
    maxInputContentBytes,
    maxTotalInputContentBytes: bytes("TES_MAX_TOTAL_INPUT_CONTENT_BYTES", 2 * MiB, maxInputContentBytes),
    maxTags: count("TES_MAX_TAGS", 100),
    maxTagKeyBytes: bytes("TES_MAX_TAG_KEY_BYTES", 256),
    maxTagValueBytes: bytes("TES_MAX_TAG_VALUE_BYTES", 4 * KiB),
    maxEnvVars: count("TES_MAX_ENV_VARS", 1000),
    maxEnvNameBytes: bytes("TES_MAX_ENV_NAME_BYTES", 1 * KiB),
    maxEnvValueBytes: bytes("TES_MAX_ENV_VALUE_BYTES", 32 * KiB),
    maxEnvTotalBytes: bytes("TES_MAX_ENV_TOTAL_BYTES", 256 * KiB),
    maxCommandArgs: count("TES_MAX_COMMAND_ARGS", 4096),
    maxCommandBytes: bytes("TES_MAX_COMMAND_BYTES", 256 * KiB),
    maxImageBytes: bytes("TES_MAX_IMAGE_BYTES", 1 * KiB),
    maxPathBytes: bytes("TES_MAX_PATH_BYTES", 4 * KiB),
    maxUrlBytes: bytes("TES_MAX_URL_BYTES", 8 * KiB),
    maxNameBytes: bytes("TES_MAX_NAME_BYTES", 1 * KiB),
    maxDescriptionBytes: bytes("TES_MAX_DESCRIPTION_BYTES", 64 * KiB),
    maxZones: count("TES_MAX_ZONES", 64),
    maxBackendParameters: count("TES_MAX_BACKEND_PARAMETERS", 64),
    maxBackendParameterValueBytes: bytes("TES_MAX_BACKEND_PARAMETER_VALUE_BYTES", 4 * KiB),
    defaultPageSize: read.integer("TES_DEFAULT_PAGE_SIZE", Math.min(256, maxPageSize), { min: 1, max: maxPageSize }),
    maxPageSize,
  };
}
