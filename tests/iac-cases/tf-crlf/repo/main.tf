resource "aws_eks_node_group" "app" {
  cluster_name    = "prod-eks"
  node_group_name = "app"
  node_role_arn   = "arn:aws:iam::111122223333:role/eks-node"
  subnet_ids      = ["subnet-0a1b2c3d"]
  instance_types  = ["m5.large"] # keep in sync with the capacity plan
  capacity_type   = "ON_DEMAND"
}
