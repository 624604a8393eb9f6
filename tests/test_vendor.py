"""The vendored htmx files are exactly the npm release named in the manifest."""

import hashlib
import json
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor"


def test_vendored_files_match_their_manifest():
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    assert manifest["files"]
    for name, entry in manifest["files"].items():
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], name
        assert entry["version"] in name
