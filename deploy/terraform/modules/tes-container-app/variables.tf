variable "shared" {
  description = "What the server and the worker are given alike (deploy/terraform/apps.tf, local.app_shared)."
  type = object({
    # The Container Apps environment it runs in, and the resource group it goes in.
    environment_id      = string
    resource_group_name = string
    tags                = map(string)
    # The server and worker image, and the container registry it is pulled from with the app's
    # identity (an ACR login server), or null for a public image.
    image           = string
    registry_server = string
    # Environment variables read from Key Vault: name to the secret's versionless id. The app
    # secret is the name in lower case with dashes.
    key_vault_secrets = map(string)
  })
}

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

variable "identity_id" {
  description = "The user-assigned identity the app runs as; it also reads the Key Vault secrets and pulls from the registry."
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
