variable "cluster_name" {
  type = string
}

variable "node_group_name" {
  type = string
}

variable "instance_types" {
  type    = list(string)
  default = ["m5.large"]
}

resource "aws_eks_node_group" "this" {
  cluster_name    = var.cluster_name
  node_group_name = var.node_group_name
  node_role_arn   = "arn:aws:iam::111122223333:role/eks-node"
  subnet_ids      = ["subnet-0a1b2c3d"]
  instance_types  = var.instance_types

  scaling_config {
    min_size     = 2
    max_size     = 6
    desired_size = 2
  }
}
