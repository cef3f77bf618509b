"""A test-only provider ("example") that proves the plugin plumbing end to end.

Its "remote API" is a directory of JSON files (EXAMPLE_STORE_DIR or the provider's
store_dir), so tests can change or delete objects behind Terraform's back.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfnimble.plugin import (
    Attribute,
    Context,
    DataSource,
    DiagnosticError,
    Provider,
    Resource,
    Schema,
    is_unknown,
    requires_replace,
    timeouts_block,
    types,
    use_state_for_unknown,
)
from tfnimble.plugin.validators import int_between, matches


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, oid: str) -> Path:
        # An ID from state or an import never leaves the store directory (nor is too long
        # for a file name): the fuzz test sends "../../x" and 5000-character IDs.
        if not isinstance(oid, str) or not oid.replace("-", "").isalnum() or len(oid) > 64:
            raise DiagnosticError("Invalid Thing ID", f"{str(oid)[:80]!r} is not a thing ID.")
        return self.root / f"{oid}.json"

    def get(self, oid: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.path(oid).read_text())
        except FileNotFoundError:
            return None

    def put(self, obj: dict[str, Any]) -> None:
        tmp = self.path(obj["id"]).with_suffix(".tmp")
        tmp.write_text(json.dumps(obj))
        tmp.replace(self.path(obj["id"]))

    def delete(self, oid: str) -> None:
        self.path(oid).unlink(missing_ok=True)

    def close(self) -> None:
        (self.root / "closed.marker").write_text("closed")

    def find(self, name: str) -> dict[str, Any] | None:
        for p in self.root.glob("*.json"):
            obj = json.loads(p.read_text())
            if obj.get("name") == name:
                return obj
        return None


@dataclass
class ProviderModel:
    store_dir: Any = None


@dataclass
class ThingModel:
    id: Any = None
    name: Any = None
    size: Any = None
    description: Any = None
    secret: Any = None
    tags: Any = None
    created_at: Any = None
    fail_after_create: Any = None
    timeouts: Any = None


class ThingResource(Resource):
    TYPE_NAME = "thing"
    Model = ThingModel
    DEFAULT_TIMEOUTS = {"create": 60.0}

    def schema(self) -> Schema:
        return Schema(
            description="A thing stored as a JSON file.",
            attributes={
                "id": Attribute(
                    type=types.String,
                    computed=True,
                    description="Identifier.",
                    plan_modifiers=(use_state_for_unknown(),),
                ),
                "name": Attribute(
                    type=types.String,
                    required=True,
                    description="Name; changing it replaces the thing.",
                    plan_modifiers=(requires_replace(),),
                    validators=(
                        matches(r"[a-z0-9-]+", "must use lowercase letters, digits and -"),
                    ),
                ),
                "size": Attribute(
                    type=types.Number,
                    optional=True,
                    computed=True,
                    default=1,
                    description="Size.",
                    validators=(int_between(1, 1000),),
                ),
                "description": Attribute(type=types.String, optional=True, description="Text."),
                "secret": Attribute(
                    type=types.String, optional=True, sensitive=True, description="A secret."
                ),
                "tags": Attribute(type=types.Map(types.String), optional=True, description="Tags."),
                "created_at": Attribute(
                    type=types.Number,
                    computed=True,
                    description="Creation time.",
                    plan_modifiers=(use_state_for_unknown(),),
                ),
                "fail_after_create": Attribute(
                    type=types.Bool,
                    optional=True,
                    description="Test hook: fail after the object exists.",
                ),
            },
            blocks={"timeouts": timeouts_block("create")},
        )

    def _store(self, ctx: Context) -> Store:
        return ctx.provider_data  # type: ignore[no-any-return]

    def _to_model(self, obj: dict[str, Any], prev: ThingModel) -> ThingModel:
        return ThingModel(
            id=obj["id"],
            name=obj["name"],
            size=obj["size"],
            description=obj.get("description"),
            secret=obj.get("secret"),
            tags=obj.get("tags"),
            created_at=obj["created_at"],
            fail_after_create=prev.fail_after_create,
            timeouts=prev.timeouts,
        )

    def create(self, ctx: Context, plan: ThingModel) -> ThingModel:
        store = self._store(ctx)
        obj = {
            "id": uuid.uuid4().hex[:12],
            "name": plan.name,
            "size": plan.size,
            "description": plan.description,
            "secret": plan.secret,
            "tags": plan.tags,
            "created_at": int(time.time()),
        }
        store.put(obj)
        model = self._to_model(obj, plan)
        if plan.fail_after_create:
            ctx.set_partial_state(model)
            raise DiagnosticError("Create Failed Late", "the test asked for a failure after create")
        return model

    def read(self, ctx: Context, state: ThingModel) -> ThingModel | None:
        obj = self._store(ctx).get(state.id)
        return None if obj is None else self._to_model(obj, state)

    def update(self, ctx: Context, plan: ThingModel, state: ThingModel) -> ThingModel:
        store = self._store(ctx)
        obj = store.get(state.id)
        if obj is None:
            raise DiagnosticError("Thing Not Found", f"thing {state.id} vanished")
        obj.update(size=plan.size, description=plan.description, secret=plan.secret, tags=plan.tags)
        store.put(obj)
        return self._to_model(obj, plan)

    def delete(self, ctx: Context, state: ThingModel) -> None:
        self._store(ctx).delete(state.id)

    def import_state(self, ctx: Context, import_id: str) -> ThingModel:
        store = self._store(ctx)
        obj = store.get(import_id) or store.find(import_id)
        if obj is None:
            raise DiagnosticError("Thing Not Found", f"no thing with id or name {import_id!r}")
        return self._to_model(obj, ThingModel())


@dataclass
class ThingDataModel:
    name: Any = None
    id: Any = None
    size: Any = None


class ThingDataSource(DataSource):
    TYPE_NAME = "thing"
    Model = ThingDataModel

    def schema(self) -> Schema:
        return Schema(
            description="Look up a thing by name.",
            attributes={
                "name": Attribute(type=types.String, required=True, description="Name."),
                "id": Attribute(type=types.String, computed=True, description="Identifier."),
                "size": Attribute(type=types.Number, computed=True, description="Size."),
            },
        )

    def read(self, ctx: Context, config: ThingDataModel) -> ThingDataModel:
        obj = ctx.provider_data.find(config.name)
        if obj is None:
            raise DiagnosticError("Thing Not Found", f"no thing named {config.name!r}")
        return ThingDataModel(name=obj["name"], id=obj["id"], size=obj["size"])


class ExampleProvider(Provider):
    TYPE_NAME = "example"
    ADDRESS = "registry.terraform.io/ito/example"
    Model = ProviderModel
    CONFIGURE_REQUIRED = True

    def schema(self) -> Schema:
        return Schema(
            attributes={
                "store_dir": Attribute(
                    type=types.String, optional=True, description="Where things are stored."
                )
            }
        )

    def configure(self, ctx: Context, config: ProviderModel) -> Store:
        if is_unknown(config.store_dir):
            raise DiagnosticError("Unknown Store", "store_dir is not known until apply")
        root = config.store_dir or os.environ.get("EXAMPLE_STORE_DIR")
        if not root:
            raise DiagnosticError("Missing Store", "set store_dir or EXAMPLE_STORE_DIR")
        return Store(Path(root))

    def resources(self) -> list[type[Resource]]:
        return [ThingResource]

    def data_sources(self) -> list[type[DataSource]]:
        return [ThingDataSource]
