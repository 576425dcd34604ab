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
  # What both apps are given alike, passed whole to each; each module call below adds only what differs.
  app_shared = {
    environment_id      = azurerm_container_app_environment.tes.id
    resource_group_name = azurerm_resource_group.tes.name
    tags                = local.tags
    image               = var.server_image
    registry_server     = var.acr_id == null ? null : var.acr_login_server
    key_vault_secrets   = { for name, secret in local.secret_env : name => secret.versionless_id }
  }
}

# The server and the worker: one module (modules/tes-container-app) holds what they share.
module "server" {
  source = "./modules/tes-container-app"

  shared       = local.app_shared
  name         = "ca-${var.name}-server"
  role         = "server"
  identity_id  = azurerm_user_assigned_identity.server.id
  min_replicas = var.server_min_replicas
  max_replicas = var.server_max_replicas
  ingress = {
    target_port         = 8000
    liveness_path       = "/healthz"
    readiness_path      = "/readyz"
    concurrent_requests = 100
  }
  env = merge(local.common_env, {
    AZURE_CLIENT_ID = azurerm_user_assigned_identity.server.client_id
    # Sign-in is on whenever an issuer is given; without one every caller sees every task.
    TES_AUTH_MODE = var.oidc_issuer == "" ? "none" : "oidc"
    OIDC_ISSUER   = var.oidc_issuer
    OIDC_AUDIENCE = var.oidc_audience
  })

  depends_on = [azurerm_role_assignment.server_secrets]
}

module "worker" {
  source = "./modules/tes-container-app"

  shared       = local.app_shared
  name         = "ca-${var.name}-worker"
  role         = "worker"
  identity_id  = azurerm_user_assigned_identity.worker.id
  min_replicas = var.worker_replicas
  max_replicas = var.worker_replicas
  env = merge(local.common_env, {
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

  depends_on = [azurerm_role_assignment.worker_secrets, azurerm_role_assignment.worker_batch, azurerm_role_assignment.worker_assigns_node_identity]
}

# The apps were resources of this root module before; moving them keeps a deployment's state, so
# applying this changes nothing in Azure.
moved {
  from = azurerm_container_app.server
  to   = module.server.azurerm_container_app.this
}

moved {
  from = azurerm_container_app.worker
  to   = module.worker.azurerm_container_app.this
}
