"""Rule import-to-alias: what is particular to it (the shared cases run in test_rule_cases.py)."""

from __future__ import annotations

from rule_cases import Cases
from refactor.rules.import_to_alias import ImportToAlias

CASES = Cases(ImportToAlias)


def test_patched_file_has_no_import_reference_left(tmp_path):
    result = CASES.engine("simple", tmp_path)
    (sug,) = [s for s in result.suggestions if s.file == "lib/simple.ex"]
    assert sug.offered and b"import" not in sug.after
