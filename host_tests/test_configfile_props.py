"""Property tests (CPython, hypothesis): validate() answers any JSON with a config or
with messages, never an exception; what it accepts is stable and survives a save."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hushgate.config import KEYS
from hushgate.configfile import validate
from hushgate.store import Store

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
# Plausible values for the keys people get wrong, so that some documents are valid.
plausible = {
    "quiet_hours": st.lists(
        st.fixed_dictionaries(
            {
                "days": st.sampled_from(["Mon-Fri", "Sat,Sun", "Daily", "Fri-Mon", "Funday"]),
                "start": st.sampled_from(["22:00", "7:30", "00:00", "25:00", "x"]),
                "end": st.sampled_from(["07:00", "24:00", "23:59", "7"]),
            }
        ),
        max_size=3,
    ),
    "vip": st.lists(st.sampled_from(["+33 6 12", "0899*", "12a", "*", "(01) 23-45"]), max_size=3),
    "block": st.lists(st.sampled_from(["+1 555*", "0033147310370", "", "+"]), max_size=3),
    "trusted": st.lists(
        st.sampled_from(["10.0.0.0/8", "192.0.2.7", "1.2.3/8", "::1"]), max_size=3
    ),
    "quiet_answer": st.sampled_from([480, 486, 603, "drop", "480", 404, None]),
    "ata": st.sampled_from(["192.168.1.60:5060", "ata", "a:b", "host:70000", None]),
    "timezone": st.sampled_from(["UTC0", "CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Paris", ""]),
}
documents = st.dictionaries(
    st.sampled_from(KEYS + ["colour"]),
    json_values,
    max_size=8,
).flatmap(
    lambda doc: st.fixed_dictionaries({k: plausible.get(k, st.just(v)) for k, v in doc.items()})
)


class _Memory:
    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        if not isinstance(data, bytes):  # pieces of str, as Store.write takes them
            data = "".join(data).encode()
        self.files[name] = bytes(data)

    def rename(self, old, new):
        self.files[new] = self.files.pop(old)

    def remove(self, name):
        self.files.pop(name, None)


@settings(max_examples=300, deadline=None)
@given(st.one_of(documents, json_values))
def test_validate_answers_anything(data):
    before = json.dumps(data, sort_keys=True)
    config, errors = validate(data)
    assert json.dumps(data, sort_keys=True) == before  # the input is never changed
    if config is None:
        assert errors and all(isinstance(e, str) and e for e in errors)
        return
    assert errors == []
    assert validate(config) == (config, [])  # what it accepts it accepts again
    store = Store(_Memory())
    store.save(config)
    assert store.load() == (config, [])
