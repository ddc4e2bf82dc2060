module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.8"

  cluster_name    = "acme-prod-use1"
  cluster_version = "1.30"

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  eks_managed_node_group_defaults = {
    ami_type = "AL2023_x86_64_STANDARD"
  }

  eks_managed_node_groups = {
    # shop, payments and search
    general = {
      instance_types = ["m5.2xlarge"]
      capacity_type  = "ON_DEMAND"
      min_size       = 3
      max_size       = 12
      desired_size   = 9

      labels = {
        role = "general"
      }
    }

    # databases and caches
    memory-optimized = {
      instance_types = ["r6i.2xlarge"]
      min_size       = 2
      max_size       = 8
      desired_size   = 4

      labels = {
        role = "memory"
      }
    }
  }

  tags = {
    team = "platform"
  }
}
