output "app" {
  value = [for s in ["large"] : "m5.${s}"]
}
