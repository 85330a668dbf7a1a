"""The Swagger UI at `/`, in headless Chromium: every namespace is shown, and "Try it out" on GET /api/v1/image
answers 200 with the cloud's image once "Authorize" holds a gateway API key, 401 without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.harness import Cloud, Gateway

pytestmark = pytest.mark.browser

NAMESPACES = (
    "image",
    "flavor",
    "network",
    "server",
    "keypair",
    "limits",
    "security-group",
    "floating-ip",
    "volume",
    "health",
)
TIMEOUT_MS = 30_000  # the first image list goes to Keystone and Glance: a few seconds on a cold cloud


def open_ui(browser: Any, gw: Gateway) -> Any:
    """A fresh page (its own context: no authorization left over) with the Swagger UI loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(gw.base + "/")
    page.wait_for_selector("#operations-tag-image")
    return page


def execute_image_list(page: Any, shot: Path) -> tuple[str, str]:
    """Expand the image namespace and GET /api/v1/image, "Try it out", "Execute": the status and body shown."""
    page.locator("#operations-tag-image").click()  # the namespaces start collapsed
    op = page.locator("#operations-image-get_image_list")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("button.execute").click()
    live = op.locator(".live-responses-table")
    status = live.locator("td.response-col_status:not(.col_header)")
    status.wait_for()
    body = live.locator(".response-col_description pre").first
    body.scroll_into_view_if_needed()
    page.screenshot(path=str(shot), full_page=True)
    return status.inner_text().strip(), body.inner_text()


def test_every_namespace_is_rendered(browser: Any, keyed_gateway: Gateway, tmp_path: Path) -> None:
    page = open_ui(browser, keyed_gateway)
    shot = tmp_path / "namespaces.png"
    page.screenshot(path=str(shot), full_page=True)
    spec_tags = [tag["name"] for tag in keyed_gateway.get("/swagger.json").json()["tags"]]
    assert sorted(spec_tags) == sorted(NAMESPACES)
    for name in NAMESPACES:
        tag = page.locator(f"#operations-tag-{name}")
        assert tag.is_visible(), f"namespace {name} is not rendered; see {shot}"
    page.context.close()


def test_authorized_try_it_out_lists_the_image(
    browser: Any, keyed_gateway: Gateway, operator_key: tuple[str, str], browser_cloud: Cloud, tmp_path: Path
) -> None:
    # The scheme "Authorize" offers for our keys: the whole Authorization header (Swagger 2.0 has no bearer).
    scheme = keyed_gateway.get("/swagger.json").json()["securityDefinitions"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")

    page = open_ui(browser, keyed_gateway)
    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".modal-ux")
    container = dialog.locator(".auth-container").filter(has_text="Name: Authorization")
    container.locator("input").fill(f"Bearer {operator_key[0]}")
    container.get_by_role("button", name="Authorize", exact=True).click()
    container.get_by_role("button", name="Logout").wait_for()  # Swagger UI holds the key now
    container.get_by_role("button", name="Close").click()
    dialog.wait_for(state="detached")
    assert "locked" in page.locator(".auth-wrapper button.authorize").get_attribute("class").split()

    shot = tmp_path / "authorized-image-list.png"
    status, body = execute_image_list(page, shot)
    assert status == "200", f"Execute showed {status}: {body[:500]}; see {shot}"
    image = browser_cloud.image
    assert image["name"] == "tiny-raw"
    listed = [(i["id"], i["name"]) for i in json.loads(body)["images"]]
    assert (image["id"], "tiny-raw") in listed, f"{body[:500]}; see {shot}"
    page.context.close()


def test_try_it_out_without_authorizing_is_refused(browser: Any, keyed_gateway: Gateway, tmp_path: Path) -> None:
    page = open_ui(browser, keyed_gateway)
    shot = tmp_path / "unauthorized-image-list.png"
    status, body = execute_image_list(page, shot)
    assert status == "401", f"Execute showed {status}: {body[:500]}; see {shot}"
    assert json.loads(body)["code"], f"{body[:500]}; see {shot}"
    page.context.close()
