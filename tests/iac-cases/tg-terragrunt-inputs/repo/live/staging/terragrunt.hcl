include "root" {
  path = find_in_parent_folders()
}

terraform {
  source = "../../modules/eks-nodes"
}

inputs = {
  cluster_name    = "staging-eks"
  node_group_name = "app"
  instance_types  = ["m5.2xlarge", "m5a.2xlarge"]
}
