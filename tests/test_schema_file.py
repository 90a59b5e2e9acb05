"""schema.graphql at the root is the schema the code serves, and it keeps the contract."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema, find_breaking_changes

from graphql_api.api.schema import schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_file_matches_the_code():
    exported = (ROOT / "schema.graphql").read_text()
    assert exported == schema.as_str() + "\n", "run `graphql-api export-schema` and commit it"


def test_no_contract_part_changed_incompatibly():
    """Parts later issues add show as removed; nothing that exists may differ from the contract."""
    contract_path = ROOT.parent / "shared" / "contract" / "schema.graphql"
    contract = build_schema(contract_path.read_text())
    changes = find_breaking_changes(contract, build_schema(schema.as_str()))
    incompatible = [c for c in changes if not c.type.name.endswith("_REMOVED")]
    assert incompatible == []
