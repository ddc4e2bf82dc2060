"""Executes every notebook of examples/notebooks top to bottom with nbclient, in its own folder,
against the installed cloudoptim wheel. Fails when a notebook holds stored outputs, when a cell
raises, or when any output is an error or a traceback.

    python scripts/run-notebooks.py [NOTEBOOK ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "examples" / "notebooks"


def problems(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            found.append(f"cell {i} has stored outputs: clear them before committing")
    if found:
        return found
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as e:
        return [f"a cell raised:\n{e}"]
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.output_type == "stream" else ""
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif "Traceback (most recent call last)" in text or (out.output_type == "stream" and out.name == "stderr" and "Error" in text):
                found.append(f"cell {i} printed an error:\n{text}")
    return found


def main() -> int:
    paths = [Path(p) for p in sys.argv[1:]] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print(f"no notebooks in {NOTEBOOKS}", file=sys.stderr)
        return 1
    failed = 0
    for path in paths:
        found = problems(path)
        status = "ok" if not found else "FAILED"
        print(f"{path.name}: {status}")
        for p in found:
            print(f"  {p}")
        failed += bool(found)
    print(f"notebooks: {len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
