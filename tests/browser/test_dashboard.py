"""The example dashboard at /dashboard/, in headless Chromium against the real cloud, as its user would use it:
asked for the API key, a create form checked by dry runs as it is typed, the new server going ACTIVE in the list
without a reload (the event stream), an error's message, stop (SHUTOFF seen live), delete (the row goes), and
the quota headroom. Screenshots of each step go to test-artifacts/dashboard/ (printed in the summary)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.harness import REPO, Cloud, Gateway, server_name, wait_for
from tests.cloud.test_cloud_isolation import keystone_token

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts" / "dashboard"
STEP_MS = 30_000  # a page action or a dry run: Keystone and the pickers' lists on a cold cloud take seconds
ACTIVE_MS = 120_000  # a boot to ACTIVE (a few seconds on the test cloud, ~15 s for a first boot)


class Shots:
    """Numbered full-page screenshots of one page, kept under test-artifacts/."""

    def __init__(self, page: Any, directory: Path) -> None:
        self.page, self.directory, self.taken = page, directory, []

    def __call__(self, label: str) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the delete's confirm()
    page.problems = []  # uncaught errors, and anything the Content-Security-Policy refused
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda m: "Content Security Policy" in m.text and page.problems.append(m.text))
    yield page
    assert page.problems == []
    context.close()


def status_of(page: Any, name: str) -> Any:
    return page.locator(f'#servers tr[data-name="{name}"] .status')


def test_a_server_created_in_the_dashboard_goes_active_live_then_stops_and_goes(
    page: Any, keyed_gateway: Gateway, operator_key: tuple[str, str], browser_cloud: Cloud
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = Shots(page, ARTIFACTS)
    name = server_name("dashboard")
    auth = {"Authorization": f"Bearer {operator_key[0]}"}
    started = time.monotonic()
    try:
        page.goto(keyed_gateway.base + "/dashboard")
        # The gateway wants a key: the page asks for one, saying why (the 401's message).
        page.locator("#login").wait_for(state="visible")
        assert "API key" in page.locator("#login-reason").inner_text()
        shot("asks-for-a-key")
        page.locator("#login input[name=secret]").fill(operator_key[0])
        page.locator("#login button[type=submit]").click()
        page.locator("#stream-state.live").wait_for()  # the stream's initial list is in: `synced`
        page.evaluate("window.notReloaded = true")  # gone if anything reloads the page

        # The pickers hold the cloud's image, flavors and networks. Their lists load beside the stream: on a
        # cloud just restarted they may come after it is live, so each is waited for (a count at once failed).
        for picker, value in (
            ("images", browser_cloud.image["name"]),
            ("flavors", browser_cloud.flavor["name"]),
            ("networks", browser_cloud.networks["demo"]["name"]),
        ):
            option = page.locator(f'#{picker} option[value="{value}"]')
            option.wait_for(state="attached")
            assert option.count() == 1, (picker, value)

        # The dry run checks the form as it is typed: an unknown flavor is named.
        page.locator("#create input[name=name]").fill(name)
        page.locator("#create input[name=image]").fill(browser_cloud.image["name"])
        page.locator("#create input[name=network]").fill(browser_cloud.networks["demo"]["name"])
        page.locator("#create input[name=flavor]").fill("m1.nosuch")
        page.locator("#dry-run.error", has_text="m1.nosuch").wait_for()
        shot("dry-run-unknown-flavor")
        page.locator("#create input[name=flavor]").fill(browser_cloud.flavor["name"])
        page.locator("#dry-run.ok", has_text=name).wait_for()
        shot("dry-run-ok")

        page.locator("#create button[type=submit]").click()
        page.locator("#dry-run.ok", has_text=f"Creating {name}").wait_for()
        status_of(page, name).wait_for()
        created = time.monotonic()
        page.locator(f'#servers tr[data-name="{name}"] .status[data-status="ACTIVE"]').wait_for(timeout=ACTIVE_MS)
        active = time.monotonic()
        assert page.evaluate("window.notReloaded") is True
        shot("active-live")

        # An error's message, shown as the gateway says it: starting a running server is refused (409 invalid_state).
        page.locator(f'#servers tr[data-name="{name}"] button[data-action=start]').click()
        refusal = page.locator("#messages li.error", has_text=f"start {name}")
        refusal.wait_for()
        sid = page.locator(f'#servers tr[data-name="{name}"]').get_attribute("data-id")
        answer = keyed_gateway.post(f"/api/v1/server/{sid}/action", json={"action": "start"}, headers=auth)
        assert (answer.status_code, answer.json()["code"]) == (409, "invalid_state"), answer.text
        assert refusal.inner_text() == f"start {name}: {answer.json()['message']}"
        shot("error-message")

        # The quota headroom: a row per flavor, with numbers.
        fits = page.locator(f'#headroom tr[data-flavor="{browser_cloud.flavor["name"]}"] td').nth(3).inner_text()
        assert fits == "∞" or fits.isdigit(), fits
        assert "Servers " in page.locator("#quota").inner_text()

        page.locator(f'#servers tr[data-name="{name}"] button[data-action=stop]').click()
        page.locator(f'#servers tr[data-name="{name}"] .status[data-status="SHUTOFF"]').wait_for(timeout=ACTIVE_MS)
        shot("stopped-live")

        page.locator(f'#servers tr[data-name="{name}"] button[data-action=delete]').click()
        page.locator(f'#servers tr[data-name="{name}"]').wait_for(state="detached", timeout=ACTIVE_MS)
        assert page.evaluate("window.notReloaded") is True
        shot("deleted-live")
    finally:
        for path in shot.taken:
            print(f"screenshot: {path}")
        listed = keyed_gateway.get("/api/v1/server", params={"name": name}, headers=auth).json().get("servers", [])
        for server in listed:
            keyed_gateway.delete(f"/api/v1/server/{server['id']}", headers=auth)
        wait_for(
            lambda: not keyed_gateway.get("/api/v1/server", params={"name": name}, headers=auth).json()["servers"],
            60,
            "the test's server gone",
        )
    print(
        f"dashboard: create to ACTIVE seen live in {active - created:.1f} s, "
        f"whole walk {time.monotonic() - started:.0f} s; {len(shot.taken)} screenshots in {ARTIFACTS}"
    )


def test_an_open_gateway_asks_for_no_key(page: Any, open_gateway: Gateway, browser_cloud: Cloud) -> None:
    # Without API keys the gateway acts as its own identity: the page goes live with nothing typed.
    page.goto(open_gateway.base + "/dashboard/")
    page.locator("#stream-state.live").wait_for()
    page.locator(f'#headroom tr[data-flavor="{browser_cloud.flavor["name"]}"]').wait_for()

    assert not page.locator("#login").is_visible()
    assert page.locator("#sign-out").is_hidden()
    assert page.locator("#messages li").count() == 0


def test_a_keystone_token_signs_in_as_its_user_in_its_project(
    page: Any, token_gateway: Gateway, browser_cloud: Cloud
) -> None:
    # The gateway has no identity of its own (REQUIRE_USER_TOKENS): the page asks; a Keystone token of user
    # lowquota signs in, and everything shown is lowquota's project: its network, its quota of one server.
    page.goto(token_gateway.base + "/dashboard/")
    page.locator("#login").wait_for(state="visible")
    assert "Keystone token" in page.locator("#login-reason").inner_text()
    page.locator("#login input[name=kind][value=token]").check()
    page.locator("#login input[name=secret]").fill(keystone_token(browser_cloud, "lowquota"))
    page.locator("#login button[type=submit]").click()
    page.locator("#stream-state.live").wait_for()

    page.locator(f'#networks option[value="{browser_cloud.networks["lowquota"]["name"]}"]').wait_for(state="attached")
    assert page.locator(f'#networks option[value="{browser_cloud.networks["demo"]["name"]}"]').count() == 0
    page.locator(f'#headroom tr[data-flavor="{browser_cloud.flavor["name"]}"]').wait_for()
    assert " of 1," in page.locator("#quota").inner_text()  # "Servers N of 1, …": lowquota's quota, not demo's
    assert page.locator("#sign-out").is_visible()
    assert page.locator("#messages li").count() == 0
