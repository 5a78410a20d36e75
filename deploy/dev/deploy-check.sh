#!/usr/bin/env bash
# Offline checks of the production deployment files (deploy/README.md), bounded in time:
#  - deploy/compose.yaml with `docker-compose config` (Debian's docker-compose, installed
#    when missing);
#  - every core Kubernetes manifest of deploy/k8s/ with `kubernetes-validate --strict`
#    (PyPI, installed when missing). The operators' custom resources (RabbitmqCluster,
#    CloudNativePG Cluster) have no schema there: they are validated, strictly, against
#    their CRDs when COHANDLE_CRD_DIR names a directory holding the operators' CRD files,
#    and skipped with a notice otherwise;
#  - each kustomization lists exactly the manifests beside it, and the roles and the
#    migration job run the same image;
#  - the Grafana dashboard and the alert rules parse, and use only the series that
#    deploy/README.md documents;
#  - the image's build context (.dockerignore applied) holds a complete workspace
#    (`cargo metadata --locked --offline` in a copy of it), and the files it COPYs.
# Which environment variables the manifests set is checked by services/cli/tests/deploy_env.rs.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."
LIMIT="${COHANDLE_DEPLOY_CHECK_TIMEOUT:-300}"

if ! command -v docker-compose >/dev/null; then
    echo "deploy-check: installing docker-compose"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
if ! command -v kubernetes-validate >/dev/null; then
    echo "deploy-check: installing kubernetes-validate"
    python3 -m pip install --quiet --disable-pip-version-check --user "kubernetes-validate>=1.30"
    export PATH="$HOME/.local/bin:$PATH"
fi

echo "== docker-compose config: deploy/compose.yaml"
timeout "$LIMIT" docker-compose -f deploy/compose.yaml config --quiet

echo "== kubernetes-validate --strict: deploy/k8s"
core=() custom=()
while IFS= read -r file; do
    [[ "$(basename "$file")" == kustomization.yaml ]] && continue
    if grep -qE '^apiVersion: (rabbitmq\.com|postgresql\.cnpg\.io|monitoring\.coreos\.com)/' "$file"; then
        custom+=("$file")
    else
        core+=("$file")
    fi
done < <(find deploy/k8s -name '*.yaml' | sort)
out="$(timeout "$LIMIT" kubernetes-validate --strict "${core[@]}" 2>&1)" || { echo "$out"; exit 1; }
echo "$out" | grep -v '^INFO' || true
if echo "$out" | grep -q "Couldn't find schema"; then
    echo "deploy-check: a core manifest has no schema (a custom resource outside the known groups?)" >&2
    exit 1
fi
echo "$(echo "$out" | grep -c '^INFO .* passed') resources passed"
if [[ -n "${COHANDLE_CRD_DIR:-}" ]]; then
    timeout "$LIMIT" python3 deploy/dev/validate_custom_resources.py "$COHANDLE_CRD_DIR" "${custom[@]}"
else
    echo "skipped (no schema offline; set COHANDLE_CRD_DIR to the operators' CRDs): ${custom[*]}"
fi

echo "== kustomizations, dashboard, alerts"
python3 - <<'PY'
import json, pathlib, re, sys
import yaml

problems = []
k8s = pathlib.Path("deploy/k8s")
images = {}
for kustomization in sorted(k8s.rglob("kustomization.yaml")):
    spec = yaml.safe_load(kustomization.read_text())
    listed = set(spec.get("resources", []))
    beside = {p.name for p in kustomization.parent.glob("*.yaml")} - {"kustomization.yaml"}
    if listed != beside:
        problems.append(f"{kustomization}: lists {sorted(listed)}, beside it {sorted(beside)}")
    for image in spec.get("images", []):
        images[str(kustomization)] = (image["name"], image.get("newName"), image.get("newTag"))
if len(set(images.values())) > 1:
    problems.append(f"the kustomizations run different images: {images}")

documented = set(re.findall(r"`(cohandle_[a-z_]+)", pathlib.Path("deploy/README.md").read_text()))
def series(expr):
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in re.findall(r"\bcohandle_[a-z_]+", expr)}
dashboard = json.loads(pathlib.Path("deploy/grafana-dashboard.json").read_text())
used = set()
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        used |= series(target["expr"])
rules = yaml.safe_load(pathlib.Path("deploy/prometheus-alerts.yaml").read_text())
for group in rules["groups"]:
    for rule in group["rules"]:
        if not {"alert", "expr"} <= rule.keys():
            problems.append(f"alert rule without alert/expr: {rule}")
        used |= series(rule["expr"])
        if f"`{rule['alert']}`" not in pathlib.Path("deploy/README.md").read_text():
            problems.append(f"alert {rule['alert']} is not explained in deploy/README.md")
for name in sorted(used - documented):
    problems.append(f"{name} is used by the dashboard or the alerts but not documented in deploy/README.md")
for p in problems:
    print("deploy-check:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

echo "== image build context"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
python3 - "$context" <<'PY'
import fnmatch, pathlib, shutil, subprocess, sys
dest = pathlib.Path(sys.argv[1])
patterns = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
def ignored(path):
    parts = path.split("/")
    return any(
        fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p + "/*")
        or any(fnmatch.fnmatch("/".join(parts[:i]), p.removeprefix("**/")) for i in range(1, len(parts) + 1))
        for p in patterns
    )
files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True, check=True).stdout.split()
for f in files:
    if not ignored(f) and pathlib.Path(f).is_file():
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest / f)
for line in open("deploy/Containerfile"):
    words = line.split()
    if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
        for source in words[1:-1]:
            if source != "." and not (dest / source).exists():
                sys.exit(f"deploy-check: the Containerfile copies {source}, which the build context lacks")
PY
# Every crate the lock file names, in the local registry (a no-op when the build has them),
# so that the check below tells a context that lacks a file from a machine that lacks a crate.
timeout "$LIMIT" cargo fetch --locked >/dev/null
(cd "$context" && timeout "$LIMIT" cargo metadata --locked --offline --format-version 1 >/dev/null)
test -x "$context/deploy/healthcheck"
bash -n deploy/healthcheck deploy/make-secrets.sh deploy/rabbitmq/compose-start.sh
echo "deploy-check: OK"
