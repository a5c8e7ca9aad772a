"""Meta test: no function over 80 lines unless its docstring says why.

A long function hides the steps a newcomer has to find; splitting it names
them. Some are long on purpose (a hot path where a call per step costs more
than the step): their docstring carries a line starting ``Long because:``.
Computed from the tree by AST, so a new package is checked too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tests.conftest import REPO


MAX_LINES = 80
PACKAGES = ("harness", "receivers", "reports", "scenarios")
REASON = "Long because:"

PENDING: dict[str, str] = {}
"""Long functions whose files another change is rewriting at the same time.

An entry that is no longer long fails :func:`test_pending_entries_are_still_long`,
so the list only shrinks.
"""


def long_functions(
    source: str, filename: str = "<string>"
) -> Iterator[tuple[str, int]]:
    """``(qualified name, lines)`` of each function over MAX_LINES without a reason.

    Lines run from the first decorator to the last line of the body, nested
    functions counted in their parent too (and checked on their own).
    """
    tree = ast.parse(source, filename)

    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                assert child.end_lineno is not None
                lines = child.end_lineno - first + 1
                doc = ast.get_docstring(child) or ""
                reasoned = any(
                    line.strip().startswith(REASON) for line in doc.splitlines()
                )
                if lines > MAX_LINES and not reasoned:
                    yield prefix + child.name, lines
                yield from visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def tree_long_functions() -> dict[str, int]:
    """Every unreasoned long function in the four packages, ``path:name -> lines``."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for name, lines in long_functions(path.read_text(), rel):
                found[f"{rel}:{name}"] = lines
    return found


def test_no_function_over_80_lines_without_a_reason() -> None:
    found = tree_long_functions()
    over = {k: v for k, v in found.items() if k not in PENDING}
    assert not over, (
        f"functions over {MAX_LINES} lines: {over}; split them into named steps, "
        f"or give the docstring a line starting {REASON!r} saying why not"
    )


def test_pending_entries_are_still_long() -> None:
    found = tree_long_functions()
    done = sorted(set(PENDING) - set(found))
    assert not done, f"no longer over {MAX_LINES} lines: remove {done} from PENDING"


def _function(name: str, body_lines: int, docstring: str = "") -> str:
    doc = f'    """{docstring}"""\n' if docstring else ""
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines))
    return f"def {name}():\n{doc}{body}"


def test_the_check_counts_from_decorator_to_last_line_and_reads_the_reason() -> None:
    """A test of the test: 80 lines pass, 81 fail, a reason or a split clears it."""
    assert list(long_functions(_function("fits", MAX_LINES - 1))) == []
    assert list(long_functions(_function("over", MAX_LINES))) == [("over", 81)]
    decorated = "@staticmethod\n" + _function("decorated", MAX_LINES - 1)
    assert list(long_functions(decorated)) == [("decorated", 81)]
    reasoned = _function(
        "hot", 100, "The fast path.\n\n    Long because: one call per frame.\n    "
    )
    assert list(long_functions(reasoned)) == []
    mention = _function("vague", 100, "Not Long because: the phrase must start a line.")
    assert list(long_functions(mention)) == [("vague", 102)]
    nested = "class Box:\n" + "\n".join(
        "    " + line for line in _function("method", MAX_LINES).splitlines()
    )
    assert list(long_functions(nested)) == [("Box.method", 81)]
    inner = "async def outer():\n" + "\n".join(
        "    " + line for line in _function("inner", MAX_LINES).splitlines()
    )
    assert list(long_functions(inner)) == [("outer", 82), ("outer.inner", 81)]
