# One user-assigned identity per role: the API needs less than the worker.
resource "azurerm_user_assigned_identity" "server" {
  name                = "id-${local.base}-server"
  location            = azurerm_resource_group.tes.location
  resource_group_name = azurerm_resource_group.tes.name
  tags                = local.tags
}

resource "azurerm_user_assigned_identity" "worker" {
  name                = "id-${local.base}-worker"
  location            = azurerm_resource_group.tes.location
  resource_group_name = azurerm_resource_group.tes.name
  tags                = local.tags
}

# The worker drives Batch (pools, jobs, tasks).
resource "azurerm_role_assignment" "worker_batch" {
  scope                = azurerm_batch_account.tes.id
  role_definition_name = "Contributor"
  principal_id         = azurerm_user_assigned_identity.worker.principal_id
}

# The worker reads task results and writes manifests in the storage account.
resource "azurerm_role_assignment" "worker_blob" {
  scope                = azurerm_storage_account.tes.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.worker.principal_id
}

# Both read their secrets (Key Vault references) from the vault.
resource "azurerm_role_assignment" "server_secrets" {
  scope                = azurerm_key_vault.tes.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.server.principal_id
}

resource "azurerm_role_assignment" "worker_secrets" {
  scope                = azurerm_key_vault.tes.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.worker.principal_id
}

# The identity Batch nodes run with, to move task files (filetransfer) with no key in the task.
resource "azurerm_user_assigned_identity" "node" {
  name                = "id-${local.base}-node"
  location            = azurerm_resource_group.tes.location
  resource_group_name = azurerm_resource_group.tes.name
  tags                = local.tags
}

# The worker attaches the node identity to the pools it creates through ARM.
resource "azurerm_role_assignment" "worker_assigns_node_identity" {
  scope                = azurerm_user_assigned_identity.node.id
  role_definition_name = "Managed Identity Operator"
  principal_id         = azurerm_user_assigned_identity.worker.principal_id
}

resource "azurerm_role_assignment" "node_blob" {
  scope                = azurerm_storage_account.tes.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.node.principal_id
}

# Pulling the images, when they live in an Azure Container Registry.
resource "azurerm_role_assignment" "server_acr" {
  count                = var.acr_id == null ? 0 : 1
  scope                = var.acr_id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.server.principal_id
}

resource "azurerm_role_assignment" "worker_acr" {
  count                = var.acr_id == null ? 0 : 1
  scope                = var.acr_id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.worker.principal_id
}

resource "azurerm_role_assignment" "node_acr" {
  count                = var.acr_id == null ? 0 : 1
  scope                = var.acr_id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.node.principal_id
}
