"""The trainer tests' data folder: the offline data with NQ split into a train and an evaluation part.

Training reads registered names at their *train* split (``<data_dir>/qa/train/<name>.jsonl``) and refuses
questions that an evaluation set holds; the repository's ``data/qa`` files are test/dev splits only. So the
trainer tests get a folder where ``qa/nq.jsonl`` keeps the first 100 NQ questions (evaluation) and
``qa/train/nq.jsonl`` holds the other 400 (training): disjoint by construction, like the demo's split.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EVAL_QUESTIONS = 100
"""NQ questions kept for evaluation; the rest become the local train split."""


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose ``nq`` has a local train split disjoint from its evaluation file."""
    from zerosearch.common.settings import CommonSettings

    source = CommonSettings().data_dir
    if source is None or not (Path(source) / "qa").is_dir():
        pytest.fail(
            "offline data not found: data/qa is missing from the checkout (or set ZEROSEARCH_DATA_DIR)"
        )
    source = Path(source)
    root = tmp_path_factory.mktemp("data")
    (root / "qa" / "train").mkdir(parents=True)
    (root / "corpus").symlink_to(source / "corpus", target_is_directory=True)
    for path in (source / "qa").glob("*.jsonl"):
        if path.name != "nq.jsonl":
            (root / "qa" / path.name).symlink_to(path)
    lines = (source / "qa" / "nq.jsonl").read_text().splitlines(keepends=True)
    (root / "qa" / "nq.jsonl").write_text("".join(lines[:EVAL_QUESTIONS]))
    (root / "qa" / "train" / "nq.jsonl").write_text("".join(lines[EVAL_QUESTIONS:]))
    return root
