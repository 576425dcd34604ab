resource "azurerm_container_app_environment" "tes" {
  name                       = "cae-${local.base}"
  location                   = azurerm_resource_group.tes.location
  resource_group_name        = azurerm_resource_group.tes.name
  log_analytics_workspace_id = azurerm_log_analytics_workspace.tes.id
  tags                       = local.tags
}

locals {
  # Settings both roles share; secrets come from Key Vault through each app's identity.
  common_env = {
    TES_BACKEND                 = "azure-batch"
    AZURE_BATCH_ACCOUNT_URL     = "https://${azurerm_batch_account.tes.account_endpoint}"
    AZURE_BATCH_RUNNER_IMAGE    = var.filetransfer_image
    QUEUE_PREFIX                = "tes"
    LOG_FORMAT                  = "json"
    SHUTDOWN_GRACE_MS           = "20000"
    SHUTDOWN_READINESS_DELAY_MS = "5000"
    TES_STORAGE                 = azurerm_storage_account.tes.primary_blob_endpoint
  }
  secret_env = {
    DATABASE_URL                          = azurerm_key_vault_secret.database_url
    REDIS_URL                             = azurerm_key_vault_secret.redis_url
    APPLICATIONINSIGHTS_CONNECTION_STRING = azurerm_key_vault_secret.appinsights
  }
}

resource "azurerm_container_app" "server" {
  name                         = "ca-${var.name}-server"
  container_app_environment_id = azurerm_container_app_environment.tes.id
  resource_group_name          = azurerm_resource_group.tes.name
  revision_mode                = "Single"
  tags                         = local.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.server.id]
  }

  dynamic "registry" {
    for_each = var.acr_id == null ? [] : [var.acr_login_server]
    content {
      server   = registry.value
      identity = azurerm_user_assigned_identity.server.id
    }
  }

  dynamic "secret" {
    for_each = local.secret_env
    content {
      name                = replace(lower(secret.key), "_", "-")
      key_vault_secret_id = secret.value.versionless_id
      identity            = azurerm_user_assigned_identity.server.id
    }
  }

  ingress {
    external_enabled = true
    target_port      = 8000
    transport        = "auto"
    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }

  template {
    min_replicas = var.server_min_replicas
    max_replicas = var.server_max_replicas

    http_scale_rule {
      name                = "http"
      concurrent_requests = "100"
    }

    container {
      name    = "server"
      image   = var.server_image
      args    = ["server"]
      cpu     = 0.5
      memory  = "1Gi"

      dynamic "env" {
        for_each = merge(local.common_env, {
          AZURE_CLIENT_ID = azurerm_user_assigned_identity.server.client_id
          # Sign-in is on whenever an issuer is given; without one every caller sees every task.
          TES_AUTH_MODE = var.oidc_issuer == "" ? "none" : "oidc"
          OIDC_ISSUER   = var.oidc_issuer
          OIDC_AUDIENCE = var.oidc_audience
        })
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.secret_env
        content {
          name        = env.key
          secret_name = replace(lower(env.key), "_", "-")
        }
      }

      liveness_probe {
        transport = "HTTP"
        port      = 8000
        path      = "/healthz"
      }
      readiness_probe {
        transport = "HTTP"
        port      = 8000
        path      = "/readyz"
      }
    }
  }

  depends_on = [azurerm_role_assignment.server_secrets]
}

resource "azurerm_container_app" "worker" {
  name                         = "ca-${var.name}-worker"
  container_app_environment_id = azurerm_container_app_environment.tes.id
  resource_group_name          = azurerm_resource_group.tes.name
  revision_mode                = "Single"
  tags                         = local.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.worker.id]
  }

  dynamic "registry" {
    for_each = var.acr_id == null ? [] : [var.acr_login_server]
    content {
      server   = registry.value
      identity = azurerm_user_assigned_identity.worker.id
    }
  }

  dynamic "secret" {
    for_each = local.secret_env
    content {
      name                = replace(lower(secret.key), "_", "-")
      key_vault_secret_id = secret.value.versionless_id
      identity            = azurerm_user_assigned_identity.worker.id
    }
  }

  template {
    min_replicas = var.worker_replicas
    max_replicas = var.worker_replicas

    container {
      name    = "worker"
      image   = var.server_image
      args    = ["worker"]
      cpu     = 0.5
      memory  = "1Gi"

      dynamic "env" {
        for_each = merge(local.common_env, {
          AZURE_CLIENT_ID = azurerm_user_assigned_identity.worker.client_id
          # Task documents go to this container; nodes read each through a short user-delegation
          # SAS that the worker's identity signs (Storage Blob Data Contributor, identity.tf).
          AZURE_BATCH_TASK_DOCUMENTS_URL = "${azurerm_storage_account.tes.primary_blob_endpoint}${azurerm_storage_container.task_documents.name}"
          # Pools are created through ARM, the only way to give them the node identity (identity.tf),
          # which nodes use for blob and registry access with no key in any task.
          AZURE_BATCH_SUBSCRIPTION_ID           = var.subscription_id
          AZURE_BATCH_RESOURCE_GROUP            = azurerm_resource_group.tes.name
          AZURE_BATCH_NODE_IDENTITY_RESOURCE_ID = azurerm_user_assigned_identity.node.id
        })
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.secret_env
        content {
          name        = env.key
          secret_name = replace(lower(env.key), "_", "-")
        }
      }
    }
  }

  depends_on = [azurerm_role_assignment.worker_secrets, azurerm_role_assignment.worker_batch, azurerm_role_assignment.worker_assigns_node_identity]
}
