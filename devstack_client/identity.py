"""Which OpenStack identity the gateway acts as, and where that came from.

Precedence, first match wins: ``OS_CLOUD`` (a ``clouds.yaml`` entry), then our
own variables (``AUTH_URL`` …), then the ``OS_*`` variables of an openrc file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keystoneauth1 import plugin as ks_plugin
from keystoneauth1.identity import v3

from devstack_client.errors import CredentialsMissing

OWN_REQUIRED = ("AUTH_URL", "USERNAME", "PASSWORD", "PROJECT_ID")
OWN_VARIABLES = (*OWN_REQUIRED, "USER_DOMAIN_NAME")
OS_REQUIRED = ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD")
OS_PROJECT = ("OS_PROJECT_ID", "OS_PROJECT_NAME")


@dataclass
class Identity:
    """A resolved service identity: how to authenticate and how to describe it."""

    source: str
    username: str | None = None
    auth_url: str | None = None
    region_name: str | None = None
    interface: str = "public"
    verify: bool | str = True
    missing: list[str] = field(default_factory=list)
    problem: str | None = None
    _auth_args: dict[str, Any] = field(default_factory=dict, repr=False)
    _cloud: Any = field(default=None, repr=False)

    def describe(self) -> str:
        return f"user {self.username!r} at Keystone {self.auth_url}"

    @property
    def keystone_url(self) -> str | None:
        """Keystone's v3 API: where callers' own tokens are validated."""
        return _v3(self.auth_url) if self.auth_url else None

    def auth_plugin(self) -> ks_plugin.BaseAuthPlugin:
        """Return a keystoneauth plugin, or raise CredentialsMissing."""
        if self.problem:
            raise CredentialsMissing(self.problem, self.missing)
        if self._cloud is not None:
            return self._cloud.get_auth()
        return v3.Password(**self._auth_args)


def _v3(url: str) -> str:
    # v3.Password posts to <auth_url>/auth/tokens without discovery (one call
    # fewer per connection), so the URL must name the v3 API itself.
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def _missing_message(names: list[str], source: str) -> str:
    return f"OpenStack credentials are incomplete ({source}): set {', '.join(names)}."


def resolve(settings: Mapping[str, Any]) -> Identity:
    """Pick the credentials to use from the settings, by the documented precedence."""
    if settings.get("OS_CLOUD"):
        return _from_clouds_yaml(settings["OS_CLOUD"], settings)
    if any(settings.get(name) for name in OWN_VARIABLES if name != "USER_DOMAIN_NAME"):
        return _from_own(settings)
    if any(settings.get(name) for name in (*OS_REQUIRED, *OS_PROJECT)):
        return _from_openrc(settings)
    missing = list(OWN_REQUIRED)
    return Identity(
        source="none",
        missing=missing,
        problem=(
            "No OpenStack credentials are configured: set "
            + ", ".join(missing)
            + " (USER_DOMAIN_NAME defaults to 'Default'), or OS_CLOUD with a clouds.yaml, "
            "or the OS_* variables of an openrc file, and restart the gateway."
        ),
    )


def _from_own(settings: Mapping[str, Any]) -> Identity:
    missing = [name for name in OWN_REQUIRED if not settings.get(name)]
    identity = Identity(
        source="AUTH_URL, USERNAME, PASSWORD, PROJECT_ID",
        username=settings.get("USERNAME"),
        auth_url=settings.get("AUTH_URL") and _v3(settings["AUTH_URL"]),
        region_name=settings.get("REGION_NAME"),
        interface=settings.get("INTERFACE") or "public",
        missing=missing,
    )
    if missing:
        identity.problem = _missing_message(missing, identity.source)
        return identity
    identity._auth_args = {
        "auth_url": identity.auth_url,
        "username": settings["USERNAME"],
        "password": settings["PASSWORD"],
        "project_id": settings["PROJECT_ID"],
        "user_domain_name": settings.get("USER_DOMAIN_NAME") or "Default",
    }
    return identity


def _from_openrc(settings: Mapping[str, Any]) -> Identity:
    missing = [name for name in OS_REQUIRED if not settings.get(name)]
    if not any(settings.get(name) for name in OS_PROJECT):
        missing.append("OS_PROJECT_ID (or OS_PROJECT_NAME)")
    identity = Identity(
        source="OS_* variables",
        username=settings.get("OS_USERNAME"),
        auth_url=settings.get("OS_AUTH_URL") and _v3(settings["OS_AUTH_URL"]),
        region_name=settings.get("OS_REGION_NAME"),
        interface=settings.get("OS_INTERFACE") or "public",
        verify=settings.get("OS_CACERT") or True,
        missing=missing,
    )
    if missing:
        identity.problem = _missing_message(missing, identity.source)
        return identity
    args: dict[str, Any] = {
        "auth_url": identity.auth_url,
        "username": settings["OS_USERNAME"],
        "password": settings["OS_PASSWORD"],
    }
    # devstack's openrc exports domain *ids*; hand-written ones often names.
    if settings.get("OS_USER_DOMAIN_NAME"):
        args["user_domain_name"] = settings["OS_USER_DOMAIN_NAME"]
    else:
        args["user_domain_id"] = settings.get("OS_USER_DOMAIN_ID") or "default"
    if settings.get("OS_PROJECT_ID"):
        args["project_id"] = settings["OS_PROJECT_ID"]
    else:
        args["project_name"] = settings["OS_PROJECT_NAME"]
        if settings.get("OS_PROJECT_DOMAIN_NAME"):
            args["project_domain_name"] = settings["OS_PROJECT_DOMAIN_NAME"]
        else:
            args["project_domain_id"] = settings.get("OS_PROJECT_DOMAIN_ID") or "default"
    identity._auth_args = args
    return identity


def _from_clouds_yaml(name: str, settings: Mapping[str, Any]) -> Identity:
    from openstack import exceptions as os_exc
    from openstack.config import loader

    source = f"clouds.yaml (OS_CLOUD={name})"
    # load_envvars=False, or OS_* would silently override the named cloud;
    # it also drops OS_CLIENT_CONFIG_FILE, which users do expect to work.
    files = {"config_files": loader.CONFIG_FILES, "secure_files": loader.SECURE_FILES}
    for key, variable in (("config_files", "OS_CLIENT_CONFIG_FILE"), ("secure_files", "OS_CLIENT_SECURE_FILE")):
        if settings.get(variable):
            files[key] = [settings[variable], *files[key]]
    try:
        cloud = loader.OpenStackConfig(load_envvars=False, **files).get_one(cloud=name)
    except os_exc.ConfigException as exc:
        return Identity(source=source, missing=["OS_CLOUD"], problem=f"OS_CLOUD={name}: {exc}")
    auth = cloud.config.get("auth", {})
    return Identity(
        source=source,
        username=auth.get("username") or auth.get("application_credential_id"),
        auth_url=auth.get("auth_url"),
        region_name=cloud.get_region_name() or None,
        interface=cloud.get_interface() or "public",
        verify=cloud.config.get("cacert") or cloud.config.get("verify", True),
        _cloud=cloud,
    )
