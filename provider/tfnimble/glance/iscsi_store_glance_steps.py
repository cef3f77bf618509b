"""The glance-api side of a glance_iscsi_store: ``filesystem_store_datadir`` (its previous
value recorded on the controller), the service restart and its checks, and whether the
service user can write to the store (see :mod:`tfnimble.glance.iscsi_store_run`).
"""

from __future__ import annotations

from . import controller as ctl
from . import glance_conf
from .controller import (
    ConfigError,
    ControllerError,
    ServiceError,
)
from .iscsi_store_run import Run, Step, resolve_service

__all__ = ["DATADIR", "SERVICE", "WRITABLE"]


# -- filesystem_store_datadir in glance-api.conf, the previous value kept on the controller ---


def _read_config(r: Run) -> str:
    data = r.t.read_file(r.spec.config_file)
    if data is None:
        raise ConfigError(
            f"{r.spec.config_file} does not exist on the controller; set config_file to "
            "glance-api's configuration file"
        )
    return data.decode("utf-8")


def _config_error(r: Run, exc: glance_conf.GlanceConfError) -> ConfigError:
    return ConfigError(f"{r.spec.config_file}: {exc}")


def _check_datadir(r: Run) -> None:
    text = _read_config(r)
    try:
        r.location = glance_conf.get_datadir(text, r.spec.backend)
    except glance_conf.GlanceConfError as exc:
        raise _config_error(r, exc) from exc


def _ensure_datadir(r: Run) -> None:
    spec = r.spec
    text = _read_config(r)  # again: the file may have changed since the preflight
    try:
        new_text, previous, r.layout, section = glance_conf.set_datadir(
            text, spec.mount_point, spec.backend
        )
    except glance_conf.GlanceConfError as exc:
        raise _config_error(r, exc) from exc
    marked, marked_previous = glance_conf.read_marker(text, section)
    if marked:
        previous = marked_previous  # recorded on the controller by an earlier run
    elif r.known is not None:
        previous = r.known.previous_datadir
    new_text = glance_conf.add_marker(new_text, section, previous)
    r.config_changed = new_text != text
    if r.config_changed:
        was = r.location.value if r.location is not None else None
        r.step(
            f"setting [{section}] filesystem_store_datadir = {spec.mount_point} in "
            f"{spec.config_file} (was {was})"
        )
        r.t.write_file(spec.config_file, new_text.encode())
    r.config_text, r.previous, r.section = new_text, previous, section


def _undo_datadir(r: Run) -> None:
    """Point Glance back at its previous datadir, so it lets go of the mount."""
    spec = r.spec
    conf = r.t.read_file(spec.config_file)
    if conf is None:
        return
    text = conf.decode("utf-8")
    try:
        location = glance_conf.get_datadir(text, spec.backend)
        marked, marked_previous = glance_conf.read_marker(text, location.section)
        known_previous = r.known.previous_datadir if r.known is not None else None
        previous = marked_previous if marked else known_previous
        new_text = text
        if glance_conf.same_path(location.value, spec.mount_point):
            new_text = glance_conf.restore_datadir(text, previous, spec.backend)
        new_text = glance_conf.remove_marker(new_text, location.section)
    except glance_conf.GlanceConfError as exc:
        raise _config_error(r, exc) from exc
    if new_text != text:
        r.step(f"restoring filesystem_store_datadir = {previous} in {spec.config_file}")
        r.t.write_file(spec.config_file, new_text.encode())
        _restart(r, resolve_service(r))


def _drift_datadir(r: Run) -> None:
    conf = r.t.read_file(r.spec.config_file)
    if conf is None:
        return
    text = conf.decode("utf-8")
    try:
        location = glance_conf.get_datadir(text, r.spec.backend)
        r.layout, r.section = location.layout, location.section
        r.datadir_ok = glance_conf.same_path(location.value, r.spec.mount_point)
        r.marked, r.previous = glance_conf.read_marker(text, location.section)
    except glance_conf.GlanceConfError:
        pass


DATADIR = Step(
    "glance-api datadir",
    check=_check_datadir,
    ensure=_ensure_datadir,
    undo=_undo_datadir,
    drift=_drift_datadir,
    found=lambda r: r.datadir_ok,
)


# -- glance-api: restarted when anything it serves from changed, then verified ---------------


def _verify_service(r: Run, service: str) -> None:
    state = ctl.wait_service_active(r.t, service, sleep=r.sleep)
    if state != "active":
        journal = ctl.service_journal_tail(r.t, service)
        raise ServiceError(
            f"{service} is {state} after the restart. See `systemctl status {service}` and "
            f"`journalctl -u {service}`"
            + (f". Last log lines: {journal[-600:]}" if journal else "")
        )


def _restart(r: Run, service: str) -> None:
    r.step(f"restarting {service}")
    ctl.service_restart(r.t, service)
    _verify_service(r, service)


def _verify_api_data_dir(r: Run) -> None:
    """If glance-api answers for its stores, it must report the new data_dir."""
    dirs = ctl.glance_store_data_dirs(r.t, ctl.store_detail_url(r.config_text))
    if not dirs:
        return  # not answered (auth, single-store layout, not listening): nothing to compare
    section = r.section or ""
    store = section if section in dirs else ("file" if "file" in dirs else None)
    if store is None:
        return
    if not glance_conf.same_path(dirs[store], r.spec.mount_point):
        raise ServiceError(
            f"glance-api reports data_dir {dirs[store]} for store {store!r}, not "
            f"{r.spec.mount_point}: it did not pick up {r.spec.config_file}. Check which "
            "configuration file the service reads (e.g. --config-dir)"
        )


def _ensure_service(r: Run) -> None:
    service = resolve_service(r)
    active = ctl.service_is_active(r.t, service) == "active"
    if r.config_changed or r.mount_changed or not active:
        _restart(r, service)
    else:
        _verify_service(r, service)
    _verify_api_data_dir(r)
    r.service_active = True


def _check_service(r: Run) -> None:
    resolve_service(r)


def _drift_service(r: Run) -> None:
    service = r.spec.service or (r.known.service if r.known is not None else None)
    if service is None:
        try:
            service = ctl.detect_service(r.t)
        except ServiceError:
            service = None
    r.service = service
    r.service_active = service is not None and ctl.service_is_active(r.t, service) == "active"


SERVICE = Step(
    "glance-api service",
    check=_check_service,
    ensure=_ensure_service,
    drift=_drift_service,
)


# -- the service user can write to the store --------------------------------------------------


def _ensure_writable(r: Run) -> None:
    mp = r.spec.mount_point
    if not ctl.is_writable_by(r.t, r.user, mp):
        raise ControllerError(
            f"{mp} is mounted but {r.user} cannot write to it; check its owner "
            "and mode, and mount options such as ro"
        )
    r.writable = True


def _drift_writable(r: Run) -> None:
    r.writable = bool(r.mounted and r.user and ctl.is_writable_by(r.t, r.user, r.spec.mount_point))


WRITABLE = Step("writable by the service user", ensure=_ensure_writable, drift=_drift_writable)
