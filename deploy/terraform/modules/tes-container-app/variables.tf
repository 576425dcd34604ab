variable "name" {
  description = "The Container App's name."
  type        = string
}

variable "role" {
  description = "What the image runs: server or worker (the container's name and its only argument)."
  type        = string
  validation {
    condition     = contains(["server", "worker"], var.role)
    error_message = "role must be server or worker."
  }
}

variable "environment_id" {
  description = "The Container Apps environment it runs in."
  type        = string
}

variable "resource_group_name" {
  description = "The resource group it goes in."
  type        = string
}

variable "tags" {
  description = "Tags of the app."
  type        = map(string)
}

variable "identity_id" {
  description = "The user-assigned identity the app runs as; it also reads the Key Vault secrets and pulls from the registry."
  type        = string
}

variable "registry_server" {
  description = "The container registry pulled from with the app's identity (an ACR login server), or null for a public image."
  type        = string
  default     = null
}

variable "image" {
  description = "The server and worker image."
  type        = string
}

variable "cpu" {
  description = "vCPUs of the container."
  type        = number
  default     = 0.5
}

variable "memory" {
  description = "Memory of the container (Container Apps pairs 1Gi with 0.5 vCPU)."
  type        = string
  default     = "1Gi"
}

variable "min_replicas" {
  description = "Fewest replicas."
  type        = number
}

variable "max_replicas" {
  description = "Most replicas."
  type        = number
}

variable "env" {
  description = "Plain environment variables, by name."
  type        = map(string)
}

variable "key_vault_secrets" {
  description = "Environment variables read from Key Vault: name to the secret's versionless id. The app secret is the name in lower case with dashes."
  type        = map(string)
}

variable "ingress" {
  description = "Public HTTP ingress on target_port, with liveness and readiness probes there and a scale rule of concurrent_requests per replica; null for none (the worker)."
  type = object({
    target_port         = number
    liveness_path       = string
    readiness_path      = string
    concurrent_requests = number
  })
  default = null
}
