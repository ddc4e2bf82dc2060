resource "aws_autoscaling_group" "workers" {
  name                = "prod-eks-workers"
  min_size            = 2
  max_size            = 20
  desired_capacity    = 4
  vpc_zone_identifier = ["subnet-0a1b2c3d", "subnet-0e5f6a7b"]

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = 1
      on_demand_percentage_above_base_capacity = 0
      spot_allocation_strategy                 = "price-capacity-optimized"
    }

    launch_template {
      launch_template_specification {
        launch_template_id = "lt-0123456789abcdef0"
        version            = "$Latest"
      }

      override {
        instance_type = "m5.xlarge"
      }

      override {
        instance_type = "m5a.xlarge" # AMD fallback
      }
    }
  }

  tag {
    key                 = "kubernetes.io/cluster/prod-eks"
    value               = "owned"
    propagate_at_launch = true
  }
}
