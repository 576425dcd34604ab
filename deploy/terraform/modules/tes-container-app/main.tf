# One TES Container App, server or worker: both run the same image with the same identity wiring,
# Key Vault secrets and shared settings, so those are written here once (deploy/terraform/apps.tf
# gives what differs).
locals {
  # The app secret that holds each Key Vault secret: its variable's name in lower case with dashes.
  secret_names = { for name in keys(var.shared.key_vault_secrets) : name => replace(lower(name), "_", "-") }
  # The ingress, its probes and its scale rule are blocks that exist only for an app that takes
  # traffic (the server): a list of the one ingress, or empty.
  ingress_or_none = var.ingress == null ? [] : [var.ingress]
}

resource "azurerm_container_app" "this" {
  name                         = var.name
  container_app_environment_id = var.shared.environment_id
  resource_group_name          = var.shared.resource_group_name
  revision_mode                = "Single"
  tags                         = var.shared.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity_id]
  }

  dynamic "registry" {
    for_each = var.shared.registry_server == null ? [] : [var.shared.registry_server]
    content {
      server   = registry.value
      identity = var.identity_id
    }
  }

  dynamic "secret" {
    for_each = var.shared.key_vault_secrets
    content {
      name                = local.secret_names[secret.key]
      key_vault_secret_id = secret.value
      identity            = var.identity_id
    }
  }

  dynamic "ingress" {
    for_each = local.ingress_or_none
    content {
      external_enabled = true
      target_port      = ingress.value.target_port
      transport        = "auto"
      traffic_weight {
        latest_revision = true
        percentage      = 100
      }
    }
  }

  template {
    min_replicas = var.min_replicas
    max_replicas = var.max_replicas

    dynamic "http_scale_rule" {
      for_each = local.ingress_or_none
      content {
        name                = "http"
        concurrent_requests = tostring(http_scale_rule.value.concurrent_requests)
      }
    }

    container {
      name   = var.role
      image  = var.shared.image
      args   = [var.role]
      cpu    = var.cpu
      memory = var.memory

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.secret_names
        content {
          name        = env.key
          secret_name = env.value
        }
      }

      dynamic "liveness_probe" {
        for_each = local.ingress_or_none
        content {
          transport = "HTTP"
          port      = liveness_probe.value.target_port
          path      = liveness_probe.value.liveness_path
        }
      }
      dynamic "readiness_probe" {
        for_each = local.ingress_or_none
        content {
          transport = "HTTP"
          port      = readiness_probe.value.target_port
          path      = readiness_probe.value.readiness_path
        }
      }
    }
  }
}
