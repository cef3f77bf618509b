"""Base classes of the nimble resources and data sources: what their CRUD has in common.

- Schema: the model dataclass is the attribute table (see ``_fields``).
- Read of a resource: get the object by the ID in state; None (gone) if the array has none. A
  volume of a family (clones of one snapshot) is read from a listing of its family, shared by
  the concurrent refreshes of one command (``client.reads``).
- Volume-backed resources (volume, clone) share update, delete and import by ID or name.
- A data source finds one client object and maps it onto its model field by field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from tfnimble.plugin import Context, DataSource, Resource, Schema, need

from . import _common as c
from . import diagnostics as diag
from . import foreign_ids
from ._fields import from_object, schema_of

if TYPE_CHECKING:
    from .client import NimbleClient, Volume


class NimbleResource(Resource):
    """A resource whose schema is its model's attribute table, and whose read is: get the
    object by the ID in state, gone (None) if the array has none, else its model."""

    DESCRIPTION: ClassVar[str]
    #: What diagnostics call it: the type name in words ("clone volume").
    KIND: ClassVar[str]
    DEFAULT_TIMEOUTS = c.DEFAULT_TIMEOUTS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE_NAME" in cls.__dict__:
            cls.KIND = cls.TYPE_NAME.replace("_", " ")

    def schema(self) -> Schema:
        return schema_of(self.Model, self.DESCRIPTION)

    def get(self, cl: NimbleClient, ident: str) -> Any | None:
        """The client object with that array ID, or None."""
        raise NotImplementedError

    def refresh(self, cl: NimbleClient, ident: str, state: Any) -> Any | None:
        """What a read (a refresh) finds of the object in `state`: by default `get`."""
        return self.get(cl, ident)

    def to_model(self, obj: Any, prior: Any | None) -> Any:
        """The model of a client object; `prior` (plan or state) keeps what the array lacks."""
        raise NotImplementedError

    def read(self, ctx: Context, state: Any) -> Any | None:
        cl, ident = c.client(ctx), need(state.id, "id")
        label = str(getattr(state, "name", ident))
        found = c.call(lambda: self.refresh(cl, ident, state), "read", self.KIND, label)
        return None if found is None else self.to_model(found, state)


class NimbleDataSource(DataSource):
    """A data source whose schema is its model's attribute table and whose result is the
    model of the one client object :meth:`find` returns."""

    DESCRIPTION: ClassVar[str]

    def schema(self) -> Schema:
        return schema_of(self.Model, self.DESCRIPTION)

    def find(self, ctx: Context, config: Any) -> object:
        raise NotImplementedError

    def read(self, ctx: Context, config: Any) -> Any:
        return from_object(self.Model, self.find(ctx, config))


class VolumeBackedResource(NimbleResource):
    """A volume or clone: in-place changes in one PUT, delete offline first, import by ID or
    name. Subclasses say which volumes may be imported (:meth:`check_import`)."""

    #: The fields of a volume that `to_model` reads: a refresh asks the array for no others.
    READ_FIELDS: ClassVar[tuple[str, ...]] = c.VOLUME_READ_FIELDS

    def get(self, cl: NimbleClient, ident: str) -> Volume | None:
        from .client import volumes

        return volumes.get_volume(cl, ident)

    def family(self, state: Any) -> dict[str, str] | None:
        """A list filter that the volume in `state` matches and that many of the volumes one
        configuration manages share, or None. A refresh of such a volume is answered from one
        listing of the family shared by every refresh of this command (``client.reads``)."""
        return None

    def refresh(self, cl: NimbleClient, ident: str, state: Any) -> Volume | None:
        family = self.family(state)
        if family is None:
            return self.get(cl, ident)
        from .client import reads

        return reads.read_volume(cl, ident, family, self.READ_FIELDS)

    def update(self, ctx: Context, plan: Any, state: Any) -> Any:
        vol = c.volume_changes(ctx, plan, state, self.KIND)
        model = self.to_model(vol, plan)
        model.space_used_bytes = c.kept_reading(plan.space_used_bytes, vol.total_usage_bytes)
        return model

    def delete(self, ctx: Context, state: Any) -> None:
        name, online = str(state.name), bool(state.online)
        c.delete_volume(ctx, need(state.id, "id"), name, self.KIND, was_online=online)

    def check_import(self, vol: Volume) -> None:
        """Raise a diagnostic when `vol` is not this kind of volume."""

    def import_state(self, ctx: Context, import_id: str) -> Any:
        vol = c.find_volume(ctx, import_id, self.KIND)
        if vol is None:
            err = diag.not_found(self.KIND, import_id)
            raise foreign_ids.explained(c.client(ctx), err, self.KIND, import_id, None)
        self.check_import(vol)
        return self.to_model(vol, None)
