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

from devstack_client.config import Settings
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


def resolve(settings: Settings) -> Identity:
    """Pick the credentials to use from the settings, by the documented precedence."""
    if settings.os_cloud:
        return _from_clouds_yaml(settings.os_cloud, settings.os_variables)
    if any(_own_required(settings).values()):  # USER_DOMAIN_NAME alone (it has a default) does not count
        return _from_own(settings)
    if any(settings.os_variables.get(name) for name in (*OS_REQUIRED, *OS_PROJECT)):
        return _from_openrc(settings.os_variables)
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


def _from_own(settings: Settings) -> Identity:
    missing = [name for name, value in _own_required(settings).items() if not value]
    identity = Identity(
        source="AUTH_URL, USERNAME, PASSWORD, PROJECT_ID",
        username=settings.username,
        auth_url=settings.auth_url and _v3(settings.auth_url),
        region_name=settings.region_name,
        interface=settings.interface or "public",
        missing=missing,
    )
    if missing:
        identity.problem = _missing_message(missing, identity.source)
        return identity
    identity._auth_args = {
        "auth_url": identity.auth_url,
        "username": settings.username,
        "password": settings.password,
        "project_id": settings.project_id,
        "user_domain_name": settings.user_domain_name or "Default",
    }
    return identity


def _own_required(settings: Settings) -> dict[str, str | None]:
    """OWN_REQUIRED's values, by variable name (for the messages)."""
    return {
        "AUTH_URL": settings.auth_url,
        "USERNAME": settings.username,
        "PASSWORD": settings.password,
        "PROJECT_ID": settings.project_id,
    }


def _from_openrc(variables: Mapping[str, str]) -> Identity:
    missing = [name for name in OS_REQUIRED if not variables.get(name)]
    if not any(variables.get(name) for name in OS_PROJECT):
        missing.append("OS_PROJECT_ID (or OS_PROJECT_NAME)")
    identity = Identity(
        source="OS_* variables",
        username=variables.get("OS_USERNAME"),
        auth_url=variables.get("OS_AUTH_URL") and _v3(variables["OS_AUTH_URL"]),
        region_name=variables.get("OS_REGION_NAME"),
        interface=variables.get("OS_INTERFACE") or "public",
        verify=variables.get("OS_CACERT") or True,
        missing=missing,
    )
    if missing:
        identity.problem = _missing_message(missing, identity.source)
        return identity
    args: dict[str, Any] = {
        "auth_url": identity.auth_url,
        "username": variables["OS_USERNAME"],
        "password": variables["OS_PASSWORD"],
    }
    # devstack's openrc exports domain *ids*; hand-written ones often names.
    if variables.get("OS_USER_DOMAIN_NAME"):
        args["user_domain_name"] = variables["OS_USER_DOMAIN_NAME"]
    else:
        args["user_domain_id"] = variables.get("OS_USER_DOMAIN_ID") or "default"
    if variables.get("OS_PROJECT_ID"):
        args["project_id"] = variables["OS_PROJECT_ID"]
    else:
        args["project_name"] = variables["OS_PROJECT_NAME"]
        if variables.get("OS_PROJECT_DOMAIN_NAME"):
            args["project_domain_name"] = variables["OS_PROJECT_DOMAIN_NAME"]
        else:
            args["project_domain_id"] = variables.get("OS_PROJECT_DOMAIN_ID") or "default"
    identity._auth_args = args
    return identity


def _from_clouds_yaml(name: str, variables: Mapping[str, str]) -> Identity:
    from openstack import exceptions as os_exc
    from openstack.config import loader

    source = f"clouds.yaml (OS_CLOUD={name})"
    # load_envvars=False, or OS_* would silently override the named cloud;
    # it also drops OS_CLIENT_CONFIG_FILE, which users do expect to work.
    files = {"config_files": loader.CONFIG_FILES, "secure_files": loader.SECURE_FILES}
    for key, variable in (("config_files", "OS_CLIENT_CONFIG_FILE"), ("secure_files", "OS_CLIENT_SECURE_FILE")):
        if variables.get(variable):
            files[key] = [variables[variable], *files[key]]
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
