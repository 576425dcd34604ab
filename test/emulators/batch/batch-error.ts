/**
 * Errors as Azure Batch answers them (shared/notes/AZURE-BATCH.md §2 "Error body"):
 * `{"odata.metadata": "...errors/@Element", "code", "message": {"lang", "value"}, "values"?}`,
 * where the message value ends with "\nRequestId:<guid>\nTime:<iso>".
 *
 * Each code the emulator can answer is named once here with its HTTP status and message; the
 * messages follow the service's "batch-status-and-error-codes" table where it gives one.
 */
export interface ErrorDetail {
  key: string;
  value: string;
}

export class BatchError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly values: ErrorDetail[] = [],
    /** Extra response headers (Retry-After on throttling). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "BatchError";
  }
}

const error =
  (status: number, code: string, message: string) =>
  (...values: ErrorDetail[]): BatchError =>
    new BatchError(status, code, message, values);

export const errors = {
  // Authentication (§1).
  authenticationFailed: error(
    403,
    "AuthenticationFailed",
    "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
  ),
  invalidAuthenticationInfo: error(
    400,
    "InvalidAuthenticationInfo",
    "The authentication information was not provided in the correct format. Verify the value of Authorization header.",
  ),
  /** Bearer token refused; the real status is unconfirmed (§1 "Entra ID"), 401 is assumed. */
  invalidAuthenticationToken: error(
    401,
    "InvalidAuthenticationToken",
    "The access token is invalid.",
  ),

  // Request shape (§2, [ERR] common codes).
  missingRequiredQueryParameter: error(
    400,
    "MissingRequiredQueryParameter",
    "A query parameter that's mandatory for this request is not specified.",
  ),
  invalidQueryParameterValue: error(
    400,
    "InvalidQueryParameterValue",
    "Value for one of the query parameters specified in the request URI is invalid.",
  ),
  outOfRangeQueryParameterValue: error(
    400,
    "OutOfRangeQueryParameterValue",
    "The query parameter specified in the request URI is outside the permissible range.",
  ),
  unsupportedQueryParameter: error(
    400,
    "UnsupportedQueryParameter",
    "One of the query parameters specified in the request URI is not supported.",
  ),
  unsupportedHeader: error(400, "UnsupportedHeader", "One of the HTTP headers specified in the request is not supported."),
  /** An If-Match that is not the resource's current ETag (§3 Pool Patch, Task Delete). */
  conditionNotMet: error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met."),
  invalidHeaderValue: error(
    400,
    "InvalidHeaderValue",
    "The value provided for one of the HTTP headers was not in the correct format.",
  ),
  invalidUri: error(400, "InvalidUri", "The requested URI does not represent any resource on the server."),
  invalidRequestBody: error(
    400,
    "InvalidRequestBody",
    "The specified Request Body is not syntactically valid.",
  ),
  missingRequiredProperty: error(
    400,
    "MissingRequiredProperty",
    "A required property was not specified in the request body.",
  ),
  invalidPropertyValue: error(
    400,
    "InvalidPropertyValue",
    "The value provided for one of the properties in the request body is invalid.",
  ),
  unsupportedProperty: error(
    400,
    "UnsupportedProperty",
    "One of the properties specified in the request body is not supported.",
  ),
  requestBodyTooLarge: error(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit."),

  // Pools (§3, §5).
  poolNotFound: error(404, "PoolNotFound", "The specified pool does not exist."),
  poolExists: error(409, "PoolExists", "The specified pool already exists."),
  poolQuotaReached: error(409, "PoolQuotaReached", "The specified account has reached its pool quota."),
  poolBeingDeleted: error(409, "PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed."),
  poolBeingResized: error(409, "PoolBeingResized", "The specified pool is currently being resized."),
  /** Resize asked of an autoscale pool; the real code is unconfirmed (§3 Pool Resize). */
  autoScaleEnabled: error(
    409,
    "OperationInvalidForCurrentState",
    "The specified operation is not valid for the current state of the resource.",
  ),
  /** EvaluateAutoScale on a pool without autoscale; the real code is unconfirmed (§3). */
  autoScaleNotEnabled: error(
    409,
    "AutoScalingNotEnabledForPool",
    "The specified pool does not have autoscale enabled.",
  ),
  autoScaleTooManyRequestsToEnable: error(
    409,
    "AutoScaleTooManyRequestsToEnable",
    "Enable AutoScale requests for the same pool must be separated by at least 30 seconds.",
  ),
  autoScalingFormulaSyntaxError: error(
    400,
    "AutoScalingFormulaSyntaxError",
    "The specified autoscale formula has a syntax error.",
  ),
  invalidAutoScalingSettings: error(
    400,
    "InvalidAutoScalingSettings",
    "The specified autoscale settings are not valid.",
  ),
  autoScaleFormulaTooLong: error(400, "AutoScaleFormulaTooLong", "The specified autoscale formula is too long."),

  // Nodes.
  nodeNotFound: error(404, "NodeNotFound", "The specified node does not exist."),

  // Jobs (§3).
  jobNotFound: error(404, "JobNotFound", "The specified job does not exist."),
  jobExists: error(409, "JobExists", "The specified job already exists."),
  activeJobAndScheduleQuotaReached: error(
    409,
    "ActiveJobAndScheduleQuotaReached",
    "The specified account has reached its quota of active jobs and job schedules.",
  ),
  jobCompleted: error(409, "JobCompleted", "The specified job is already in a completed state."),
  jobBeingTerminated: error(409, "JobBeingTerminated", "The specified job is in the process of being terminated."),
  jobBeingDeleted: error(409, "JobBeingDeleted", "The specified job has been marked for deletion and is being garbage collected."),
  jobNotActive: error(409, "JobNotActive", "The specified job is not active."),

  // Tasks (§3, §4).
  taskNotFound: error(404, "TaskNotFound", "The specified task does not exist."),
  taskExists: error(409, "TaskExists", "The specified task already exists."),
  /** Terminate on a completed task; the real code is unconfirmed (§3 Task Terminate). */
  taskCompleted: error(409, "TaskCompleted", "The specified task is already completed."),

  // Files (§3 File GetFromTask).
  fileNotFound: error(404, "FileNotFound", "The specified file does not exist."),
  invalidRange: error(416, "InvalidRange", "The specified byte range is invalid for the given file."),
  taskFilesUnavailable: error(
    409,
    "TaskFilesUnavailable",
    "The files of the specified task are not available because the task has not been scheduled to a node.",
  ),

  // Throttling and service faults (§6).
  tooManyRequests: error(
    429,
    "TooManyRequests",
    "Request failed as server encountered too many requests. Please try again.",
  ),
  serverBusy: error(503, "ServerBusy", "The server is currently unable to receive requests. Please retry your request."),
  internalError: error(500, "InternalError", "The server encountered an internal error. Please retry the request."),
  operationTimedOut: error(500, "OperationTimedOut", "The operation could not be completed within the permitted time."),
} as const;

/** A property error carries the property name and a reason, as the service's examples do. */
export function propertyError(
  factory: (...values: ErrorDetail[]) => BatchError,
  property: string,
  reason?: string,
): BatchError {
  const values = [{ key: "PropertyName", value: property }];
  if (reason !== undefined) values.push({ key: "Reason", value: reason });
  return factory(...values);
}

export function queryError(name: string, value: string, reason: string): BatchError {
  return errors.invalidQueryParameterValue(
    { key: "QueryParameterName", value: name },
    { key: "QueryParameterValue", value },
    { key: "Reason", value: reason },
  );
}

/** The wire body of an error (§2), also used inside AddCollection results and autoscale runs. */
export function errorBody(
  err: BatchError,
  context: { metadataUrl?: string; requestId: string; now: Date },
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (context.metadataUrl !== undefined) body["odata.metadata"] = context.metadataUrl;
  body.code = err.code;
  body.message = {
    lang: "en-US",
    value: `${err.message}\nRequestId:${context.requestId}\nTime:${batchTime(context.now)}`,
  };
  if (err.values.length > 0) body.values = err.values;
  return body;
}

/** ISO-8601 UTC with 7 fractional digits, as the service writes timestamps (§2). */
export function batchTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
}
