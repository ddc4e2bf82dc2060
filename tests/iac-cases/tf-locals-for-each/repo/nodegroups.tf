resource "aws_eks_node_group" "this" {
  for_each = local.node_groups

  cluster_name    = local.cluster_name
  node_group_name = each.key
  node_role_arn   = "arn:aws:iam::111122223333:role/eks-node"
  subnet_ids      = ["subnet-0a1b2c3d"]
  instance_types  = each.value.instance_types

  scaling_config {
    min_size     = each.value.min_size
    max_size     = 10
    desired_size = each.value.min_size
  }
}
