"""core.patch: the admission JSONPatch turns the request into the admitted Experiment, exactly."""

from __future__ import annotations

import copy
import json

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from katib_llm.core.patch import make_patch, same

from tests.builders import example

scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2, allow_nan=False) | st.text("ab/~", max_size=3)
docs = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text("ab/~", max_size=3), c, max_size=4),
                    max_leaves=15)


@settings(max_examples=400, deadline=None)
@given(docs, docs)
def test_patch_turns_src_into_dst(src, dst):
    before = copy.deepcopy(src)
    patched = jsonpatch.apply_patch(src, make_patch(src, dst))
    assert same(patched, dst), (patched, dst)
    assert same(src, before)  # the request object is not modified


def test_type_exact_and_escaped():
    assert make_patch({"a": 1}, {"a": True}) == [{"op": "replace", "path": "/a", "value": True}]
    assert make_patch({"m/x~y": 1}, {"m/x~y": 2}) == [{"op": "replace", "path": "/m~1x~0y", "value": 2}]
    assert make_patch({"a": [1]}, {"a": [1, 2]}) == [{"op": "add", "path": "/a/1", "value": 2}]
    assert make_patch({"a": 1}, {"a": 1}) == []


def test_admission_patch_matches_result(admin_config):
    from katib_llm.core.admit import admit

    exp = example()
    result = admit(exp, admin_config)
    applied = jsonpatch.apply_patch(exp, json.loads(json.dumps(result.patch)))
    assert same(applied, result.experiment)


def test_template_copies_are_private_even_for_values_marshal_cannot_hold():
    import datetime

    from katib_llm.core.config import AdminConfig, DEFAULTS

    plain = {"kind": "Job", "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}
    dated = {"kind": "Job", "metadata": {"annotations": {"since": datetime.date(2024, 1, 1)}}}
    config = AdminConfig(values=DEFAULTS, templates={"plain": plain, "dated": dated})
    for name, source in (("plain", plain), ("dated", dated)):
        first, second = config.template_copy(name), config.template_copy(name)
        assert first == source and first is not source
        first["kind"] = "changed"
        assert second["kind"] == "Job" and source["kind"] == "Job"
    assert config.template_copy("dated")["metadata"]["annotations"]["since"] == datetime.date(2024, 1, 1)
