"""Writes the small, synthetic inputs of the rightsizing notebook (deterministic; no real
cluster's data): a one-namespace cluster dump (``shop-cluster.json``: two m5.xlarge nodes and
the Deployment ``shop/checkout`` with three replicas asking for 1 CPU and 2 GiB each) and three
days of its containers' usage as Prometheus ``query_range`` answers (``checkout-cpu.json``,
``checkout-memory.json``), 15-minute steps, a daily cycle peaking near 0.3 CPU and 700 MiB.

    python examples/notebooks/data/generate.py
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
END = 1_767_225_600  # 2026-01-01T00:00:00Z
STEP = 900
DAYS = 3
PODS = ["checkout-6d4b8f7c9d-2xk4p", "checkout-6d4b8f7c9d-8qz7m", "checkout-6d4b8f7c9d-t5r9w"]
NODES = [("ip-10-0-1-17.ec2.internal", "us-east-1a", "i-0a1b2c3d4e5f60001"), ("ip-10-0-2-42.ec2.internal", "us-east-1b", "i-0a1b2c3d4e5f60002")]


def node(name: str, zone: str, instance: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "node.kubernetes.io/instance-type": "m5.xlarge",
                "topology.kubernetes.io/region": "us-east-1",
                "topology.kubernetes.io/zone": zone,
                "eks.amazonaws.com/nodegroup": "general",
                "eks.amazonaws.com/capacityType": "ON_DEMAND",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
            },
            "creationTimestamp": "2025-12-01T00:00:00Z",
        },
        "spec": {"providerID": f"aws:///{zone}/{instance}"},
        "status": {
            "capacity": {"cpu": "4", "memory": "15896Mi", "pods": "58"},
            "allocatable": {"cpu": "3920m", "memory": "14848Mi", "pods": "58"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(name: str, node_name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"app": "checkout"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-6d4b8f7c9d", "uid": "rs-1", "controller": True}],
            "creationTimestamp": "2025-12-01T00:00:00Z",
        },
        "spec": {
            "nodeName": node_name,
            "containers": [{"name": "app", "image": "shop/checkout:1.4", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}}],
        },
        "status": {"phase": "Running"},
    }


def main() -> None:
    rng = random.Random(7)
    items: list[dict[str, object]] = [node(*n) for n in NODES]
    items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "payments"}}})
    template = {"metadata": {"labels": {"app": "checkout"}}, "spec": pod(PODS[0], "")["spec"]}
    items.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "checkout", "namespace": "shop", "uid": "dep-1"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "checkout"}}, "template": template},
            "status": {"replicas": 3, "readyReplicas": 3},
        }
    )
    items.append(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "checkout-6d4b8f7c9d",
                "namespace": "shop",
                "uid": "rs-1",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout", "uid": "dep-1", "controller": True}],
            },
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "checkout"}}, "template": template},
            "status": {"replicas": 3},
        }
    )
    for i, p in enumerate(PODS):
        items.append(pod(p, NODES[i % 2][0]))
    (HERE / "shop-cluster.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=1) + "\n")

    times = range(END - DAYS * 86_400 + STEP, END + 1, STEP)
    cpu, memory = [], []
    for p in PODS:
        labels = {"namespace": "shop", "pod": p, "container": "app"}
        cpu_values, mem_values = [], []
        for t in times:
            day = math.sin(2 * math.pi * ((t % 86_400) / 86_400 - 0.3))
            cpu_values.append([t, f"{max(0.02, 0.17 + 0.11 * day + rng.gauss(0, 0.02)):.4f}"])
            mem_values.append([t, str(int((560 + 110 * day + rng.gauss(0, 15)) * 2**20))])
        cpu.append({"metric": labels, "values": cpu_values})
        memory.append({"metric": labels, "values": mem_values})
    for name, series in (("checkout-cpu.json", cpu), ("checkout-memory.json", memory)):
        body = {"status": "success", "data": {"resultType": "matrix", "result": series}}
        (HERE / name).write_text(json.dumps(body, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
