module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.0"

  cluster_name = "prod-eks"

  eks_managed_node_groups = {
    general = {
      instance_types = [
        "m5.large",
        "m5a.large",
      ]
      min_size = 2
    }
  }

  self_managed_node_groups = {
    legacy = {
      instance_type = "m4.large"
      max_size      = 4
    }
  }
}
