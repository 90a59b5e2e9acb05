"""Which server code a run measured: the working tree changes under the suites (others edit
graphql_api/ while benchmarks run), so every suite prints a fingerprint of it."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fingerprint(root: Path = ROOT) -> str:
    """HEAD's short hash, and a hash of every graphql_api/*.py as it is on disk now."""
    digest = hashlib.sha1()
    for path in sorted((root / "graphql_api").rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
            check=False, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "graphql_api"], cwd=root, capture_output=True,
            text=True, check=False, timeout=10,
        ).stdout.strip()  # fmt: skip
    except OSError:
        head, dirty = "?", ""
    return f"HEAD {head or '?'}{' + uncommitted changes' if dirty else ''}; graphql_api/*.py sha1 {digest.hexdigest()[:12]}"
