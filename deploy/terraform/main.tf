data "azurerm_client_config" "current" {}

resource "random_string" "suffix" {
  length  = 6
  upper   = false
  special = false
}

locals {
  base = "${var.name}${random_string.suffix.result}"
  tags = merge({ application = "tes-azure" }, var.tags)
}

resource "azurerm_resource_group" "tes" {
  name     = "rg-${var.name}"
  location = var.location
  tags     = local.tags
}

# Logs and telemetry: Log Analytics behind Application Insights and the Container Apps environment.
resource "azurerm_log_analytics_workspace" "tes" {
  name                = "log-${local.base}"
  location            = azurerm_resource_group.tes.location
  resource_group_name = azurerm_resource_group.tes.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = local.tags
}

resource "azurerm_application_insights" "tes" {
  name                = "appi-${local.base}"
  location            = azurerm_resource_group.tes.location
  resource_group_name = azurerm_resource_group.tes.name
  workspace_id        = azurerm_log_analytics_workspace.tes.id
  application_type    = "Node.JS"
  tags                = local.tags
}
