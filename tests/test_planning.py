"""Planning a run: a label's content and the thread count are checked before any work."""

import pytest

from pgbench.planning import MAX_LABEL, check_label, max_threads, plan
from pgbench.registry import InvalidSettingError


@pytest.mark.parametrize("label", ["PG (inverse)", "dp lr=0.001", "[red]shown as written[/red]", "τ × 2", "x" * MAX_LABEL])
def test_labels_that_name_a_method(label):
    assert check_label(label) == label
    assert plan("sin", "gd", label=label).meta["label"] == label


@pytest.mark.parametrize("label, message", [
    ("a\x1b[31mred", r"printable characters, got 'a\\x1b\[31mred' \(holds '\\x1b'\)"),
    ("two\nlines", "one line of printable characters"),
    ("tab\there", "printable characters"),
    ("x" * 5000, r"at most 120 characters, got 'x+'\.\.\. \(5000 characters\)"),
    ("   ", "must not be blank"),
    (3, "must be text"),
])
def test_labels_that_cannot_name_a_method_are_refused(label, message):
    with pytest.raises(InvalidSettingError, match=message):
        check_label(label)
    with pytest.raises(InvalidSettingError, match=message):
        plan("sin", "gd", label=label)


def test_threads_are_bounded():
    assert plan("sin", "gd", threads=max_threads()).meta["numerics"]["torch_threads"] == max_threads()
    for bad in (max_threads() + 1, 100000, -1):
        with pytest.raises(InvalidSettingError, match=rf"threads must be an integer from 0 .* to {max_threads()}"):
            plan("sin", "gd", threads=bad)
