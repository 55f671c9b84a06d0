"""Every version the EKS deployment method pins, in one place.

Kubernetes minor version, the kubectl/helm Lambda layer that matches it, the EKS
add-on builds and the Helm chart versions. Everything here is tied to
``KUBERNETES_VERSION``: bump them together, check each add-on with

    aws eks describe-addon-versions --kubernetes-version <version> --addon-name <name> \\
        --query 'addons[].addonVersions[].addonVersion'

and read the snapshot diff. ``tests/test_eks.py`` fails when the cluster version, the
kubectl layer and this table disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kubernetes minor version of the cluster (EKS standard support).
KUBERNETES_VERSION = "1.34"

# The kubectl layer package must serve the same minor version (kubectl supports +/-1
# minor version of skew, but CDK's kubectl handler is tested per version).
KUBECTL_LAYER_MODULE = "aws_cdk.lambda_layer_kubectl_v34"
KUBECTL_LAYER_CLASS = "KubectlV34Layer"

# EKS add-ons (AWS::EKS::Addon), by add-on name, built for KUBERNETES_VERSION.
ADDON_VERSIONS: dict[str, str] = {
    # Credentials for pods through EKS Pod Identity (no OIDC provider needed).
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    # EFS CSI driver: mounts the stack's EFS access point with TLS and IAM.
    "aws-efs-csi-driver": "v3.4.0-eksbuild.1",
    # Container Insights (enhanced observability) and Fluent Bit application logs.
    "amazon-cloudwatch-observability": "v4.10.1-eksbuild.1",
    # cert-manager (the guide's Step 6.1); issues the load balancer controller's webhook certificate.
    "cert-manager": "v1.19.1-eksbuild.1",
    # Resource metrics for the HorizontalPodAutoscalers.
    "metrics-server": "v0.8.0-eksbuild.3",
}


@dataclass(frozen=True)
class HelmChartVersion:
    """A pinned Helm chart: repository URL, chart name and chart version."""

    repository: str
    chart: str
    version: str


HELM_CHARTS: dict[str, HelmChartVersion] = {
    # AWS Load Balancer Controller (the guide's Step 6.1): reconciles the TargetGroupBinding
    # that registers corridor-app pods in the stack's own target group.
    "aws-load-balancer-controller": HelmChartVersion(
        "https://aws.github.io/eks-charts", "aws-load-balancer-controller", "3.2.2"
    ),
    # Secrets Store CSI driver with the AWS provider (ASCP): Secrets Manager -> pod env.
    # The chart bundles the driver (1.6.0); the EKS add-on of the same name is not used
    # because it does not pass `syncSecret.enabled` to the bundled driver.
    "secrets-store-csi-driver-provider-aws": HelmChartVersion(
        "https://aws.github.io/secrets-store-csi-driver-provider-aws", "secrets-store-csi-driver-provider-aws", "3.1.1"
    ),
    # Cluster Autoscaler: grows the node group between the guide's min and max.
    "cluster-autoscaler": HelmChartVersion("https://kubernetes.github.io/autoscaler", "cluster-autoscaler", "9.53.0"),
    # Stakater Reloader (app v1.4.17): rolls a Deployment when the Kubernetes Secret named in
    # its `secret.reloader.stakater.com/reload` annotation changes, i.e. after the Secrets
    # Store CSI driver re-synced a rotated database password. In-cluster, so it works with
    # the private API endpoint.
    "reloader": HelmChartVersion("https://stakater.github.io/stakater-charts", "reloader", "2.2.12"),
}
