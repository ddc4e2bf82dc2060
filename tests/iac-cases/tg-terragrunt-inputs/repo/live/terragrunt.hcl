remote_state {
  backend = "s3"
  config = {
    bucket = "acme-tf-state"
    key    = "${path_relative_to_include()}/terraform.tfstate"
    region = "us-east-1"
  }
}

inputs = {
  tags = {
    ManagedBy = "terragrunt"
  }
}
