include "root" {
  path = find_in_parent_folders()
}

terraform {
  source = "../../modules/eks-nodes"
}

inputs = {
  cluster_name    = "prod-eks"
  node_group_name = "app"
  instance_types  = ["m6i.2xlarge", "m6a.2xlarge"] # holiday peak sizing
}
