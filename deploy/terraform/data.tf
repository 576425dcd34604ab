# Storage: task inputs and outputs, and the Batch account's auto-storage.
resource "azurerm_storage_account" "tes" {
  name                            = "st${local.base}"
  location                        = azurerm_resource_group.tes.location
  resource_group_name             = azurerm_resource_group.tes.name
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
  tags                            = local.tags
}

resource "azurerm_storage_container" "tasks" {
  name                  = "tes-tasks"
  storage_account_id    = azurerm_storage_account.tes.id
  container_access_type = "private"
}

# Each Batch task's TES document (inputs' SAS URLs included), kept out of the Batch task itself.
resource "azurerm_storage_container" "task_documents" {
  name                  = "tes-task-documents"
  storage_account_id    = azurerm_storage_account.tes.id
  container_access_type = "private"
}

resource "azurerm_batch_account" "tes" {
  name                                = "ba${local.base}"
  location                            = azurerm_resource_group.tes.location
  resource_group_name                 = azurerm_resource_group.tes.name
  pool_allocation_mode                = "BatchService"
  storage_account_id                  = azurerm_storage_account.tes.id
  storage_account_authentication_mode = "BatchAccountManagedIdentity"
  storage_account_node_identity       = azurerm_user_assigned_identity.node.id
  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.node.id]
  }
  tags = local.tags
}

resource "random_password" "postgres" {
  length  = 32
  special = false
}

resource "azurerm_postgresql_flexible_server" "tes" {
  name                          = "psql-${local.base}"
  location                      = azurerm_resource_group.tes.location
  resource_group_name           = azurerm_resource_group.tes.name
  version                       = "16"
  sku_name                      = var.postgres_sku
  storage_mb                    = var.postgres_storage_mb
  administrator_login           = "tesadmin"
  administrator_password        = random_password.postgres.result
  public_network_access_enabled = true
  zone                          = "1"
  tags                          = local.tags
}

resource "azurerm_postgresql_flexible_server_database" "tes" {
  name      = "tes"
  server_id = azurerm_postgresql_flexible_server.tes.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

# Azure services only (the Container Apps' outbound addresses); tighten with a VNet for production.
resource "azurerm_postgresql_flexible_server_firewall_rule" "azure" {
  name             = "azure-services"
  server_id        = azurerm_postgresql_flexible_server.tes.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "0.0.0.0"
}

resource "azurerm_redis_cache" "tes" {
  name                 = "redis-${local.base}"
  location             = azurerm_resource_group.tes.location
  resource_group_name  = azurerm_resource_group.tes.name
  sku_name             = var.redis_sku
  family               = var.redis_sku == "Premium" ? "P" : "C"
  capacity             = var.redis_capacity
  minimum_tls_version  = "1.2"
  non_ssl_port_enabled = false
  redis_configuration {
    # BullMQ needs keys never evicted.
    maxmemory_policy = "noeviction"
  }
  tags = local.tags
}

# Secrets: the connection URLs live here; the apps read them as Key Vault references.
resource "azurerm_key_vault" "tes" {
  name                       = "kv-${local.base}"
  location                   = azurerm_resource_group.tes.location
  resource_group_name        = azurerm_resource_group.tes.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 30
  tags                       = local.tags
}

# Whoever runs terraform writes the secrets.
resource "azurerm_role_assignment" "deployer_secrets" {
  scope                = azurerm_key_vault.tes.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_key_vault_secret" "database_url" {
  name         = "database-url"
  key_vault_id = azurerm_key_vault.tes.id
  value        = "postgres://tesadmin:${random_password.postgres.result}@${azurerm_postgresql_flexible_server.tes.fqdn}:5432/${azurerm_postgresql_flexible_server_database.tes.name}?sslmode=require"
  depends_on   = [azurerm_role_assignment.deployer_secrets]
}

resource "azurerm_key_vault_secret" "redis_url" {
  name         = "redis-url"
  key_vault_id = azurerm_key_vault.tes.id
  value        = "rediss://:${azurerm_redis_cache.tes.primary_access_key}@${azurerm_redis_cache.tes.hostname}:${azurerm_redis_cache.tes.ssl_port}/0"
  depends_on   = [azurerm_role_assignment.deployer_secrets]
}

resource "azurerm_key_vault_secret" "appinsights" {
  name         = "applicationinsights-connection-string"
  key_vault_id = azurerm_key_vault.tes.id
  value        = azurerm_application_insights.tes.connection_string
  depends_on   = [azurerm_role_assignment.deployer_secrets]
}
