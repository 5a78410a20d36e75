"""Validates custom resources (the operators' RabbitmqCluster, CloudNativePG Cluster …)
against the openAPIV3Schema of their CustomResourceDefinitions, strictly: a field the
schema does not declare is an error, as kubernetes-validate --strict does for core kinds.

    python3 validate_custom_resources.py CRD_DIR MANIFEST…

CRD_DIR holds the operators' CRD files (e.g. config/crd/bases/ of each operator's
repository, at the version you run). Exits 1 on any error, 2 when a manifest's kind has
no CRD there."""

import pathlib
import sys

import jsonschema
import yaml


def strict(schema):
    """Closes every object schema that lists its properties, unless it keeps unknown fields."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            strict(value)
    elif isinstance(schema, list):
        for value in schema:
            strict(value)
    return schema


def schemas(crd_dir):
    found = {}
    for path in sorted(pathlib.Path(crd_dir).glob("*.y*ml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = version["schema"]["openAPIV3Schema"]
                # apiVersion, kind and metadata are the API server's, not the CRD's.
                schema.setdefault("properties", {}).pop("metadata", None)
                schema["properties"]["metadata"] = {"type": "object"}
                found[(f"{group}/{version['name']}", kind)] = strict(schema)
    return found


def main(crd_dir, manifests):
    known = schemas(crd_dir)
    status = 0
    for manifest in manifests:
        for doc in yaml.safe_load_all(pathlib.Path(manifest).read_text()):
            if not doc:
                continue
            key = (doc.get("apiVersion"), doc.get("kind"))
            name = f"{manifest}: {key[1]} {doc.get('metadata', {}).get('name')}"
            if key not in known:
                print(f"NO SCHEMA {name} ({key[0]} not in {crd_dir})")
                status = max(status, 2)
                continue
            errors = sorted(
                jsonschema.Draft7Validator(known[key]).iter_errors(doc), key=lambda e: list(e.path)
            )
            for error in errors:
                where = ".".join(str(p) for p in error.path) or "(top)"
                print(f"INVALID {name}: {where}: {error.message}")
            if errors:
                status = 1
            else:
                print(f"OK {name} against {key[0]}")
    return status


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
