locals {
  cluster_name = "prod-eks"

  node_groups = {
    app = {
      instance_types = ["m5.xlarge"]
      min_size       = 3
    }
    batch = {
      instance_types = ["m5.xlarge"]
      min_size       = 0
    }
  }
}
