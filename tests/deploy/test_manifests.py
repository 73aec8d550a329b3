"""deploy/: yamllint on every YAML file, Kubernetes schema validation (offline, bundled schemas),
and what the manifests must say: GPU, probes that check models, network policy, secrets, KServe."""
from __future__ import annotations

import copy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, DOCKER, REPO

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install -r requirements-dev.txt")

K8S_VERSION = "1.33.0"  # validated against this release's schemas (bundled in kubernetes-validate)
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), *DOCKER.rglob("*.yaml"), DEPLOY / ".yamllint"])
K8S_FILES = sorted(p for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def resources() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for p in K8S_FILES for d in docs(p)}


def container(deployment: dict, name: str) -> dict:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env(c: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def test_yamllint_every_yaml_file():
    pytest.importorskip("yamllint", reason="pip install -r requirements-dev.txt")
    assert len(YAML_FILES) >= 10
    result = subprocess.run([sys.executable, "-m", "yamllint", "-c", str(DEPLOY / ".yamllint"), "-f", "parsable",
                             *map(str, YAML_FILES)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda p: p.name)
def test_kubernetes_schema_strict(path):
    for doc in docs(path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S_FILES}


def test_torchserve_requests_a_gpu_and_probes_models_with_the_key():
    ts = resources()[("StatefulSet", "ocrserve-torchserve")]
    c = container(ts, "torchserve")
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert c["readinessProbe"]["exec"]["command"][-2:] == ["/opt/ocrserve/docker/ts_probe.py", "ready"]
    assert c["livenessProbe"]["exec"]["command"][-1] == "live"
    assert "startupProbe" in c
    e = env(c)
    assert e["OCRSERVE_PROFILE"] == "prod"
    assert e["OCRSERVE_TS_MANAGEMENT_HOST"] == "pod-ip"
    assert e["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert e["OCRSERVE_TS_METRICS_HOST"] == "127.0.0.1"
    assert "OCRSERVE_TS_TOKEN_AUTH" not in e  # prod: token auth on, cannot be switched off
    assert e["OCRSERVE_KEYS_SECRET"] == "ocrserve-torchserve-keys"
    assert e["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert e["OCRSERVE_KEYS_ITEM"] == "$(POD_NAME).json"  # each replica publishes its own keys
    assert ts["spec"]["template"]["spec"]["serviceAccountName"] == "ocrserve-torchserve"
    assert ts["spec"]["replicas"] == 2 and ts["spec"]["serviceName"] == "ocrserve-torchserve"


def test_gateway_holds_one_url_and_key_file_per_torchserve_replica():
    from service.gateway.settings import Settings

    r = resources()
    ts = r[("StatefulSet", "ocrserve-torchserve")]
    pods = [f"ocrserve-torchserve-{i}" for i in range(ts["spec"]["replicas"])]
    assert r[("Service", "ocrserve-torchserve")]["spec"]["clusterIP"] == "None"  # per-pod DNS names
    e = env(container(r[("Deployment", "ocrserve-gateway")], "gateway"))
    settings = Settings(inference_url=e["OCRSERVE_INFERENCE_URL"], management_url=e["OCRSERVE_MANAGEMENT_URL"],
                        torchserve_key_file=e["OCRSERVE_TORCHSERVE_KEY_FILE"])
    assert [u.host for u in settings.inference_url] == [f"{p}.ocrserve-torchserve" for p in pods]
    assert [u.host for u in settings.management_url] == [f"{p}.ocrserve-torchserve" for p in pods]
    assert [k.name for k in settings.torchserve_key_file] == [f"{p}.json" for p in pods]
    items = r[("Secret", "ocrserve-torchserve-keys")]["stringData"]
    assert sorted(items) == [f"{p}.json" for p in pods]
    pdb = r[("PodDisruptionBudget", "ocrserve-torchserve")]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == ts["spec"]["selector"]["matchLabels"]


def test_gateway_probes_hpa_pdb_and_secrets():
    r = resources()
    gw = r[("Deployment", "ocrserve-gateway")]
    c = container(gw, "gateway")
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    e = env(c)
    assert e["OCRSERVE_ADMIN_KEY"] == {"secretKeyRef": {"name": "ocrserve-admin", "key": "OCRSERVE_ADMIN_KEY"}}
    assert all(f.strip().startswith("/var/run/ocrserve/torchserve-keys/")
               for f in e["OCRSERVE_TORCHSERVE_KEY_FILE"].split(","))
    volumes = {v["name"]: v for v in gw["spec"]["template"]["spec"]["volumes"]}
    assert volumes["torchserve-keys"]["secret"]["secretName"] == "ocrserve-torchserve-keys"
    hpa = r[("HorizontalPodAutoscaler", "ocrserve-gateway")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ocrserve-gateway"
    assert hpa["spec"]["minReplicas"] >= 2
    pdb = r[("PodDisruptionBudget", "ocrserve-gateway")]
    assert pdb["spec"]["selector"]["matchLabels"] == gw["spec"]["selector"]["matchLabels"]


def test_services_select_their_pods():
    r = resources()
    for kind, name in (("StatefulSet", "ocrserve-torchserve"), ("Deployment", "ocrserve-gateway")):
        service, deployment = r[("Service", name)], r[(kind, name)]
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert service["spec"]["type"] == "ClusterIP"
    assert {p["port"] for p in r[("Service", "ocrserve-torchserve")]["spec"]["ports"]} == {8080, 8081}


def test_only_the_gateway_reaches_torchserve_management():
    policy = resources()[("NetworkPolicy", "ocrserve-torchserve-from-gateway-only")]["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ocrserve-torchserve"}
    assert policy["policyTypes"] == ["Ingress"]
    ports = set()
    for rule in policy["ingress"]:
        assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ocrserve-gateway"}}}]
        ports |= {p["port"] for p in rule["ports"]}
    assert 8081 in ports and 8082 not in ports


def test_gateway_replicas_share_one_job_queue_that_only_they_reach():
    r = resources()
    gateway = r[("Deployment", "ocrserve-gateway")]
    assert gateway["spec"]["replicas"] > 1  # SQLite jobs would be per pod: the queue must be shared
    url = env(container(gateway, "gateway"))["OCRSERVE_JOBS_REDIS_URL"]
    service = r[("Service", "ocrserve-redis")]
    assert url.startswith(f"redis://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/")
    redis = r[("Deployment", "ocrserve-redis")]
    assert service["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()
    args = container(redis, "redis")["args"]
    assert "--appendonly" in args and args[args.index("--maxmemory-policy") + 1] == "noeviction"
    policy = r[("NetworkPolicy", "ocrserve-redis-from-gateway-only")]["spec"]
    assert policy["ingress"] == [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ocrserve-gateway"}}}],
                                  "ports": [{"protocol": "TCP", "port": 6379}]}]


def test_secrets_are_placeholders_and_rbac_is_narrow():
    r = resources()
    admin = r[("Secret", "ocrserve-admin")]["stringData"]["OCRSERVE_ADMIN_KEY"]
    assert admin == "CHANGE_ME" and len(admin) < 16  # the gateway refuses to start with it
    for item in r[("Secret", "ocrserve-torchserve-keys")]["stringData"].values():
        assert {v["key"] for v in yaml.safe_load(item).values()} == {"PLACEHOLDER"}
    role = r[("Role", "ocrserve-torchserve-keys")]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"],
                              "resourceNames": ["ocrserve-torchserve-keys"], "verbs": ["get", "patch"]}]


def test_kserve_inferenceservice():
    (isvc,) = docs(DEPLOY / "kserve" / "inferenceservice.yaml")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1" and isvc["kind"] == "InferenceService"
    predictor = isvc["spec"]["predictor"]
    containers = {c["name"]: c for c in predictor["containers"]}
    assert [c["name"] for c in predictor["containers"] if c.get("ports")] == ["kserve-container"]
    assert containers["kserve-container"]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ts = containers["torchserve"]
    assert ts["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert env(ts)["OCRSERVE_TS_INFERENCE_HOST"] == "127.0.0.1"
    assert env(ts)["OCRSERVE_TS_ENABLE_MODEL_API"] == "false"
    # KServe has no schema in kubernetes-validate (a CRD): check its pod part as a core PodSpec
    pod_fields = {"containers", "volumes", "tolerations", "securityContext"}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ocrserve-predictor"},
           "spec": copy.deepcopy({k: v for k, v in predictor.items() if k in pod_fields})}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    assert set(predictor) - pod_fields <= {"minReplicas", "maxReplicas", "timeout"}


def test_log4j2_info_without_duplicated_lines():
    root = ET.parse(DEPLOY / "log4j2.xml").getroot()
    loggers = root.find("Loggers")
    appenders = {a.get("name") for a in root.find("Appenders")}
    assert appenders == {"STDOUT"}
    assert loggers.find("Root").get("level") == "info"
    for logger in loggers.findall("Logger"):
        # additivity false: a line goes to its own appenders only, never again through root's
        assert logger.get("additivity") == "false", logger.get("name")
        refs = [r.get("ref") for r in logger.findall("AppenderRef")]
        assert len(refs) == len(set(refs)) and set(refs) <= appenders
        assert logger.get("level") in {"info", "error", "off"}, logger.get("name")
    names = {logger.get("name") for logger in loggers.findall("Logger")}
    assert {"ACCESS_LOG", "MODEL_LOG", "TS_METRICS", "MODEL_METRICS", "org.pytorch.serve"} <= names
