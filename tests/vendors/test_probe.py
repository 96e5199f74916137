"""One probe against real local endpoints: bounded in time and size, redirects refused, SSRF."""

from __future__ import annotations

import pytest

from tests.vendors.conftest import elapsed, hang, trickle_body, trickle_headers
from vendors.probe import MAX_BODY_BYTES, UnsafeURL, _pinned, probe, resolve_public_address


def test_2xx_is_ok(httpserver):
    httpserver.expect_request("/health").respond_with_data("fine", status=204)
    result = probe(7, httpserver.url_for("/health"), timeout=2)
    assert result.ok and result.status_code == 204 and result.error == ""
    assert result.vendor_id == 7 and result.response_time_ms is not None
    assert result.checked_at.tzinfo is not None


@pytest.mark.parametrize("status", [500, 503, 404])
def test_non_2xx_fails_with_the_status(httpserver, status):
    httpserver.expect_request("/health").respond_with_data("no", status=status)
    result = probe(1, httpserver.url_for("/health"), timeout=2)
    assert not result.ok and result.status_code == status
    assert f"HTTP {status}" in result.error


def test_connection_refused(refused_url):
    result = probe(1, refused_url, timeout=2)
    assert not result.ok and result.status_code is None
    assert "refused" in result.error


def test_redirect_is_not_followed(httpserver):
    httpserver.expect_request("/health").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    httpserver.expect_request("/elsewhere").respond_with_data("ok")
    result = probe(1, httpserver.url_for("/health"), timeout=2)
    assert not result.ok and result.status_code == 302
    assert "not followed" in result.error
    assert [r.path for r, _ in httpserver.log] == ["/health"]


def test_a_10_mb_body_is_not_read(httpserver):
    httpserver.expect_request("/health").respond_with_data(b"x" * 10_000_000)
    result, seconds = elapsed(lambda: probe(1, httpserver.url_for("/health"), timeout=5))
    assert result.ok and result.status_code == 200
    assert seconds < 2
    assert MAX_BODY_BYTES == 64 * 1024


@pytest.mark.parametrize("behave", [hang, trickle_body, trickle_headers])
def test_slow_endpoints_are_bounded_by_the_timeout(raw_server, behave):
    server = raw_server(behave)
    result, seconds = elapsed(lambda: probe(1, server.url(), timeout=1))
    assert not result.ok
    assert "timed out" in result.error
    assert 0.9 <= seconds < 1.6


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/health",
        "http://127.0.0.1/health",
        "http://10.0.0.1/health",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8000/health",
        "http://[::1]/health",
        "http://[::ffff:127.0.0.1]/health",
        "http://0.0.0.0/health",
    ],
)
def test_internal_and_non_http_urls_are_refused(settings, url):
    settings.HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(UnsafeURL):
        resolve_public_address(url)
    result = probe(1, url, timeout=1)
    assert not result.ok and result.error.startswith("refused:")


def test_private_addresses_allowed_by_the_setting(settings, httpserver):
    settings.HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS = True
    assert resolve_public_address("http://127.0.0.1/health") is None
    with pytest.raises(UnsafeURL):
        resolve_public_address("file:///etc/passwd")  # the scheme is always checked


def test_a_public_address_is_pinned(settings):
    settings.HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS = False
    assert resolve_public_address("https://93.184.216.34:8443/x") == "93.184.216.34"
    url, host = _pinned("https://vendor.example.com:8443/x?y=1", "93.184.216.34")
    assert url == "https://93.184.216.34:8443/x?y=1"
    assert host == "vendor.example.com:8443"
    assert _pinned("http://v.example.com/", "2001:db8::1") == (
        "http://[2001:db8::1]/",
        "v.example.com",
    )
