"""The read-only inventory sets answer with the array's types and addresses, on the points a
review against HPE's SDKs found the simulator wrong (docs/nimble-array-facts.md, "Inventory
object sets")."""

from __future__ import annotations

from sim_testkit import Api
from tfnimble.sim.constants import SOFTWARE_VERSION


def test_a_software_version_is_addressed_by_its_version(api: Api) -> None:
    # Go SDK SoftwareVersion: "Software version, used as identifier in URL"; release_date is
    # an int64 (an epoch time), not text
    row = api.get("/v1/software_versions/detail").data[0]
    assert isinstance(row["release_date"], int) and not isinstance(row["release_date"], bool)
    one = api.get(f"/v1/software_versions/{SOFTWARE_VERSION}")
    assert one.status == 200 and one.data == row
    assert api.get(f"/v1/software_versions/{SOFTWARE_VERSION}", fields="status").data == {
        "status": "installed"
    }
    missing = api.get("/v1/software_versions/1.0.0.0-1-opt")
    assert (missing.status, missing.code) == (404, "SM_enoent")
    r = api.put(f"/v1/software_versions/{SOFTWARE_VERSION}", {"name": "x"})
    assert (r.status, r.code) == (405, "SM_http_method_not_allowed")
