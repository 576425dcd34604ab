output "tes_url" {
  description = "The TES API base URL (REST at /ga4gh/tes/v1, gRPC and Connect on the same host)."
  value       = "https://${module.server.ingress_fqdn}/ga4gh/tes/v1"
}

output "service_info_url" {
  description = "GET this to check the deployment: the TES service-info."
  value       = "https://${module.server.ingress_fqdn}/ga4gh/tes/v1/service-info"
}

output "resource_group" {
  description = "The resource group holding everything."
  value       = azurerm_resource_group.tes.name
}

output "key_vault_uri" {
  description = "The Key Vault holding DATABASE_URL, REDIS_URL and the Application Insights connection string."
  value       = azurerm_key_vault.tes.vault_uri
}

output "batch_account_endpoint" {
  description = "The Batch account the worker drives."
  value       = azurerm_batch_account.tes.account_endpoint
}

output "application_insights_name" {
  description = "Where traces, metrics and logs go."
  value       = azurerm_application_insights.tes.name
}
