output "ingress_fqdn" {
  description = "The app's public host name; null without ingress."
  value       = var.ingress == null ? null : azurerm_container_app.this.ingress[0].fqdn
}
