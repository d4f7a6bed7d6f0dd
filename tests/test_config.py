"""Settings are checked where they are made: a bad value is one line naming its variable and what it accepts."""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsetl.cli import main
from newsetl.config import Settings, SettingsError

RANGED = {f.name: f.metadata["range"] for f in fields(Settings) if "range" in f.metadata}


def _outside(spec: tuple, kind: type) -> st.SearchStrategy:
    """Values just outside or far outside a (lo, hi, lo_open) range, of the setting's type."""
    lo, hi, lo_open = spec
    if kind is int:
        below = st.integers(max_value=lo - 1)
        above = st.integers(min_value=hi + 1) if hi is not None else st.nothing()
    else:
        below = st.floats(max_value=lo, exclude_max=not lo_open, allow_nan=False)
        above = st.floats(min_value=hi, exclude_min=True, allow_nan=False) if hi is not None else st.nothing()
    return below | above


@given(data=st.data(), name=st.sampled_from(sorted(RANGED)))
def test_every_ranged_setting_refuses_values_outside_its_range(data, name):
    """Any out-of-range value of any ranged setting: SettingsError naming NEWSETL_<NAME>, in one line."""
    kind = type(getattr(Settings(), name))
    value = data.draw(_outside(RANGED[name], kind))
    with pytest.raises(SettingsError) as err:
        Settings.from_env(**{name: value})
    assert f"NEWSETL_{name.upper()}" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("NEWSETL_WORKERS", "abc", "whole number"),
        ("NEWSETL_NEAR_THRESHOLD", "2", "above 0 and at most 1"),
        ("NEWSETL_MAX_QUARANTINE_SHARE", "-0.1", "from 0 to 1"),
        ("NEWSETL_BATCH_SIZE", "0", "at least 1"),
        ("NEWSETL_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("NEWSETL_CLUSTER", "my-cluster", "Dask scheduler address"),
    ],
)
def test_cli_reports_a_bad_setting_in_one_line(samples, tmp_path, monkeypatch, capsys, var, value, says):
    """newsetl run with a bad NEWSETL_* variable: exit 2, one line naming the variable; nothing is written."""
    monkeypatch.setenv(var, value)
    assert main(["run", "--no-prefect", str(samples), "--warehouse", str(tmp_path / "wh")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsetl: error:") and var in err and says in err and "\n" not in err, err
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("layout", ["warehouse_in_landing", "landing_in_warehouse", "same"])
def test_landing_and_warehouse_may_not_contain_each_other(samples, tmp_path, capsys, layout):
    """A warehouse inside the landing folder (or the reverse) is refused before anything is read or written."""
    wh = {
        "warehouse_in_landing": samples / "wh",
        "landing_in_warehouse": samples.parent,
        "same": samples,
    }[layout]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["run", "--no-prefect", str(samples), "--warehouse", str(wh)]) == 2
    err = capsys.readouterr().err.strip()
    assert "may not contain each other" in err and "\n" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("value", ["", "local", "tcp://10.0.0.5:8786", "sched.example.org:8786", "tls://[::1]:8786"])
def test_cluster_accepts_local_and_scheduler_addresses(value):
    """NEWSETL_CLUSTER: empty (the worker pool), `local` (a LocalCluster) or [protocol://]host:port."""
    assert Settings.from_env(cluster=value).cluster == value


@pytest.mark.parametrize("value", ["Local", "tcp://host", "10.0.0.5", "http//x:1", "tcp://a b:1"])
def test_cluster_refuses_anything_else(value):
    """A value that is neither `local` nor an address is refused with the variable's name."""
    with pytest.raises(SettingsError, match="NEWSETL_CLUSTER must be `local` or a Dask scheduler address"):
        Settings.from_env(cluster=value)
