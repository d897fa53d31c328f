"""store.query: RunQuery's one translation to and from URL query parameters (the http
store sends what the server reads), its page cursor, and a bad parameter named in one line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.store.query import (
    QUERY_PARAMS,
    Cursor,
    PageSize,
    RunQuery,
    from_params,
    to_params,
)

PAGE = PageSize(default=None, low=0, high=10**7)


def as_params(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


text = st.text(min_size=1, max_size=20)
cursors = st.builds(
    Cursor,
    st.floats(min_value=0, max_value=2**34),
    st.text(min_size=1, max_size=100),
    st.booleans(),
)
queries = st.builds(
    RunQuery,
    profile_name=st.none() | text,
    profile_hash=st.none() | text,
    workers=st.none() | st.integers(0, 10**6),
    backend=st.none() | text,
    target=st.none() | text,
    session_id=st.none() | text,
    history_key=st.none() | text,
    test=st.none() | text,
    verdict=st.none() | st.sampled_from(["pass", "fail", "regression"]),
    status=st.none() | text,
    labels=st.none() | st.dictionaries(text.filter(lambda k: "=" not in k), st.text(), min_size=1),
    since=st.none() | st.floats(min_value=0, max_value=2**34),
    until=st.none() | st.floats(min_value=0, max_value=2**34),
    text=st.none() | text,
    limit=st.none() | st.integers(0, 10**7),
    after=st.none() | cursors,
    offset=st.integers(0, 10**9),
    with_raw=st.booleans(),
)


@given(queries)
def test_every_field_survives_the_trip_through_query_parameters(query: RunQuery) -> None:
    assert from_params(as_params(to_params(query)), page=PAGE) == query


def test_every_field_has_a_parameter_of_its_own() -> None:
    names = [name for param in QUERY_PARAMS for name in param.names]
    assert len(names) == len(set(names))
    assert {param.field for param in QUERY_PARAMS} == set(RunQuery.__dataclass_fields__)


def test_aliases_and_empty_values() -> None:
    query = from_params(
        {"profile": ["rr"], "key": ["k"], "session": [""], "title": ["x"], "limit": [""]},
        page=PageSize(default=50, low=1, high=500),
    )
    assert query == RunQuery(profile_name="rr", history_key="k", text="x", limit=50)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": ["soon"]}, "query parameter since='soon' is not a time"),
        ({"until": ["-1"]}, "query parameter until='-1' is not a time"),
        ({"workers": ["x"]}, "query parameter workers='x' is not an integer"),
        ({"limit": ["100000000"]}, "query parameter limit=100000000 must be from 0 to 10000000"),
        ({"offset": ["-3"]}, "query parameter offset=-3 must be from 0 to 1000000000"),
        ({"verdict": ["bogus"]}, "query parameter verdict='bogus' must be one of error, fail,"),
        ({"with_raw": ["yes"]}, "query parameter with_raw='yes' must be one of true, false"),
        ({"label": ["novalue"]}, "query parameter label='novalue' is not KEY=VALUE"),
        ({"cursor": ["!!"]}, "query parameter cursor='!!' is not a page cursor"),
        ({"cursor": ["WzFd"]}, "query parameter cursor='WzFd' is not a page cursor"),
        ({"cursor": ["x" * 500]}, "is not a page cursor (longer than 400 characters)"),
    ],
)
def test_a_bad_parameter_is_one_line_naming_it(params: dict[str, list[str]], message: str) -> None:
    with pytest.raises(StoreError) as caught:
        from_params(params, page=PAGE)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cursors_are_opaque_url_text() -> None:
    cursor = Cursor(1_700_000_000.123456, "run:1/ü", pending=True)
    encoded = cursor.encode()
    assert encoded.replace("-", "").replace("_", "").isalnum()
    assert Cursor.decode(encoded) == cursor


def test_a_negative_page_is_refused() -> None:
    with pytest.raises(StoreError, match="limit -1 is negative"):
        RunQuery(limit=-1)
    with pytest.raises(StoreError, match="offset -1 is negative"):
        RunQuery(offset=-1)
