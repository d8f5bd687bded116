"""Regenerate contract.json (compact) from the full API contract document.

Usage: python3 crates/gcsim/contract/extract.py FULL_CONTRACT.json
The output keeps only what gcsim validates: model field names, types and enums,
and the operations (method, path, body model, response model, query params).
"""
import json
import sys

src = json.load(open(sys.argv[1]))
models = {}
for name, m in src["models"].items():
    fields = {}
    for f in m["fields"]:
        entry = [f["type"]]
        if f.get("enum"):
            entry.append(f["enum"])
        fields[f["json"]] = entry
    models[name] = fields
ops = []
for o in src["operations"]:
    ops.append({
        "method": o["method"],
        "path": o["path"],
        "operation": o["operation"],
        "body": (o["body"] or {}).get("type"),
        "response": o["response"],
        "query": [q["name"] for q in o["query_params"]],
    })
# Corrections observed on the real service that the SDK's enums do not list:
# an OAuth client deleted moments ago reads back with state "deleted".
models["OAuthClient"]["state"][1].append("deleted")
out = {"source": src["source"], "models": models, "operations": ops}
json.dump(out, open(__file__.replace("extract.py", "contract.json"), "w"), indent=None, separators=(",", ":"), sort_keys=True)
