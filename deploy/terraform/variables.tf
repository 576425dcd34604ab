variable "subscription_id" {
  description = "The Azure subscription to deploy into."
  type        = string
}

variable "name" {
  description = "A short lowercase name (3-12 letters and digits) used to name every resource, e.g. \"tes\"."
  type        = string
  default     = "tes"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,11}$", var.name))
    error_message = "name must be 3-12 lowercase letters and digits, starting with a letter."
  }
}

variable "location" {
  description = "The Azure region of every resource, e.g. \"westeurope\"."
  type        = string
  default     = "westeurope"
}

variable "server_image" {
  description = "The server/worker image (the repository's Dockerfile), e.g. \"myregistry.azurecr.io/tes-azure/server:0.1.0\"."
  type        = string
}

variable "filetransfer_image" {
  description = "The image Batch nodes run the task runner and filetransfer from (AZURE_BATCH_RUNNER_IMAGE; see worker/backends/azure-batch/README.md)."
  type        = string
}

variable "acr_id" {
  description = "Resource id of an Azure Container Registry holding the images; the identities get AcrPull on it. Null for a public registry."
  type        = string
  default     = null
}

variable "acr_login_server" {
  description = "The login server of that registry (e.g. \"myregistry.azurecr.io\"); required when acr_id is set."
  type        = string
  default     = null
}

variable "server_min_replicas" {
  description = "The fewest API replicas (Container Apps scales between min and max on HTTP load)."
  type        = number
  default     = 1
}

variable "server_max_replicas" {
  description = "The most API replicas."
  type        = number
  default     = 5
}

variable "worker_replicas" {
  description = "Worker pool replicas (each runs WORKER_CONCURRENCY jobs at once)."
  type        = number
  default     = 2
}

variable "postgres_sku" {
  description = "PostgreSQL flexible server SKU, e.g. \"B_Standard_B1ms\" (burstable) or \"GP_Standard_D2ds_v5\"."
  type        = string
  default     = "B_Standard_B1ms"
}

variable "postgres_storage_mb" {
  description = "PostgreSQL storage in MB."
  type        = number
  default     = 32768
}

variable "redis_sku" {
  description = "Azure Cache for Redis SKU name: Basic, Standard or Premium."
  type        = string
  default     = "Standard"
}

variable "redis_capacity" {
  description = "Azure Cache for Redis size within the SKU (0-6 for Basic/Standard)."
  type        = number
  default     = 1
}

variable "oidc_issuer" {
  description = "The OIDC issuer that signs callers' tokens (for Microsoft Entra ID: https://login.microsoftonline.com/<tenant>/v2.0). Empty: sign-in off (not for production)."
  type        = string
  default     = ""
}

variable "oidc_audience" {
  description = "The audience callers' tokens must carry (the API's application ID URI or client id)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags put on every resource."
  type        = map(string)
  default     = {}
}
